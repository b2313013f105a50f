import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInvariants } from "../src/db/stores/ledger-checks.js";
import { postPosting } from "../src/db/stores/ledger.js";
import { ensureUser } from "../src/db/stores/users.js";
import { withTransaction } from "../src/db/transaction.js";
import { paymentCaptured } from "../src/ledger/index.js";
import type { Currency } from "../src/money/currencies.js";
import { createTestDb, type TestDb } from "./support/db.js";

/**
 * After-commit means after commit: a hook runs once the transaction is durable, outside the
 * retry loop, so its error can neither make the committed transaction look failed nor (carrying
 * a deadlock's 40P01) run it again. It is logged for a person instead.
 */
let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
  await ensureUser(tdb.db, "ac-user");
});
afterAll(async () => tdb?.drop());

describe("an after-commit hook that throws", () => {
  it("leaves one committed posting and one alert line", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as never);
        done();
      },
    });
    const log = pino({ level: "info" }, sink);
    let runs = 0;
    let laterHookRan = false;
    const credit = paymentCaptured("pi_after_commit", "ac-user", {
      amountMinor: 1_234,
      currency: "usd" as Currency,
    });

    const result = await withTransaction(
      tdb.db,
      async (trx) => {
        runs++;
        const posted = await postPosting(trx, credit);
        trx.afterCommit(() => {
          throw Object.assign(new Error("deadlock detected"), { code: "40P01" });
        });
        trx.afterCommit(() => void (laterHookRan = true));
        return posted;
      },
      { log },
    );

    expect(result.applied).toBe(true);
    expect(runs).toBe(1); // a 40P01 from a hook never re-runs the committed transaction
    expect(laterHookRan).toBe(true); // and the other hooks still run
    const rows = await tdb.db("wallet_ledger_transactions").where({ idempotency_key: credit.key });
    expect(rows).toHaveLength(1);
    const wallet = await tdb.db("user_wallet_balances").where({ user_id: "ac-user" }).first();
    expect(wallet?.available_minor).toBe(1_234);
    const alerts = lines.filter((l) => l.alert === true);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ level: 50, msg: expect.stringContaining("after-commit hook failed") });
    expect((await checkInvariants(tdb.db)).ok).toBe(true);
  });
});
