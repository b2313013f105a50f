import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  getConnectedAccount,
  insertConnectedAccount,
  syncConnectedAccount,
} from "../src/db/stores/connected-accounts.js";
import { ensureUser } from "../src/db/stores/users.js";
import { createTestDb, type TestDb } from "./support/db.js";

/**
 * Mirroring by `event.created` never trusts a time ahead of ours (issue 11, item 7): a signed
 * `account.updated` dated 10 years ahead once froze an account with `payouts_enabled: true`
 * against every real update. (The webhook's own future-dated signature is refused in
 * test/webhook-rejections.test.ts.)
 */
let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => {
  await tdb?.drop();
});

const now = () => Math.floor(Date.now() / 1000);

describe("an account event dated in the future", () => {
  it("is applied as of now, so the next real update still lands", async () => {
    await ensureUser(tdb.db, "ts-user");
    await insertConnectedAccount(tdb.db, "ts-user", "acct_future", "express");
    const state = (payouts: boolean, asOf: number) => ({
      accountId: "acct_future",
      chargesEnabled: true,
      payoutsEnabled: payouts,
      requirementsDue: [],
      asOf,
    });

    expect(await syncConnectedAccount(tdb.db, state(true, now() + 10 * 365 * 86_400))).toBe(true);
    const stored = await getConnectedAccount(tdb.db, "ts-user");
    expect(Number(stored!.stripe_updated)).toBeLessThanOrEqual(now());

    // Stripe disables payouts a moment later: that event is newer than anything real we saw.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await syncConnectedAccount(tdb.db, state(false, now()))).toBe(true);
    expect((await getConnectedAccount(tdb.db, "ts-user"))!.payouts_enabled).toBe(false);

    // An event older than the one applied still loses, as before.
    expect(await syncConnectedAccount(tdb.db, state(true, now() - 3600))).toBe(false);
    expect((await getConnectedAccount(tdb.db, "ts-user"))!.payouts_enabled).toBe(false);
  });
});
