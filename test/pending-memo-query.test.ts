import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../src/db/knex.js";
import { prepared } from "../src/db/prepared.js";
import { REFRESH_PENDING, refreshPendingMinor } from "../src/db/stores/balances.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { rowsRead, type PlanNode } from "./support/plan.js";

/**
 * Every credit refreshes its wallet's `pending_minor` (uncaptured authorizations) in the same
 * transaction. It must read only the authorizations still open (migration 20261206000100), not
 * the wallet's whole history: a merchant with 2,000 captured top-ups and two open authorizations
 * costs each credit a few rows, as a new wallet does. Measured as rows read, never as time.
 */
let tdb: TestDb;
let owner: Db;
const HISTORY = 2_000;

beforeAll(async () => {
  tdb = await createTestDb();
  owner = createDb(tdb.ownerUrl, { poolMax: 2 });
  await owner.raw(`INSERT INTO users (id) VALUES ('merchant')`);
  await owner.raw(
    `INSERT INTO payment_transactions (id, user_id, purpose, idempotency_key, payment_intent_id, amount_minor,
                                       currency, status, amount_received_minor, amount_capturable_minor)
     SELECT 'top_' || g, 'merchant', 'wallet_top_up', 'k' || g, 'pi_' || g, 1000, 'usd',
            CASE WHEN g <= 2 THEN 'requires_capture' ELSE 'succeeded' END,
            CASE WHEN g <= 2 THEN 0 ELSE 1000 END, CASE WHEN g <= 2 THEN 300 + g ELSE 0 END
       FROM generate_series(1, ?::int) g`,
    [HISTORY + 2],
  );
  await owner.raw("ANALYZE");
}, 60_000);
afterAll(async () => {
  await owner?.destroy();
  await tdb?.drop();
});

describe("a credit's pending memo refresh", () => {
  it("sums the open authorizations", async () => {
    await tdb.db.transaction((trx) => refreshPendingMinor(trx, "merchant", "usd"));
    const row = await tdb.db("user_wallet_balances").where({ user_id: "merchant", currency: "usd" }).first();
    expect(Number(row.pending_minor)).toBe(301 + 302);
  });

  it("reads the open authorizations, not the wallet's history, on the plan a credit runs", async () => {
    // A prepared statement runs its generic plan from the sixth execution on: measure that one.
    const explain = {
      name: "explain_refresh_pending",
      text: `EXPLAIN (ANALYZE, FORMAT JSON) ${REFRESH_PENDING.text}`,
    };
    const plans: PlanNode[] = [];
    await tdb.db
      .transaction(async (trx) => {
        for (let i = 0; i < 7; i++) {
          const r = await prepared<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(trx, explain, [
            "merchant",
            "usd",
          ]);
          plans.push(r.rows[0]!["QUERY PLAN"][0]!.Plan);
        }
        throw new Error("rollback");
      })
      .catch((err: unknown) => {
        if (!(err instanceof Error) || err.message !== "rollback") throw err;
      });
    for (const plan of [plans[0]!, plans.at(-1)!]) {
      const read = rowsRead(plan).get("payment_transactions") ?? 0;
      expect(read).toBeGreaterThanOrEqual(2); // it did read the two open ones
      expect(read).toBeLessThanOrEqual(10);
    }
  });
});
