import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userKeyHash } from "../src/ledger/movements.js";
import { api, pay, topUp, wallet } from "./support/api.js";
import { control } from "./support/lifecycles.js";
import { eventually, startSystem, type System } from "./support/system.js";
import {
  approve,
  requestWithdrawal,
  settledAndBalanced,
  settleFunds,
  waitForStatus,
} from "./support/withdrawals.js";

/**
 * A user id is the JWT `sub`, opaque and as long as the issuer likes. Stripe caps idempotency keys
 * at 255 characters, so every key Coffer sends stays within that, hashing the user id where a key
 * is built from it: a 255-character user onboards, tops up and withdraws like anyone else.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
});
afterAll(async () => sys?.stop());

/** support/withdrawals.ts readyUser, with Idempotency-Keys of its own: that one embeds the user. */
async function readyUser(user: string, creditMinor: number): Promise<{ accountId: string }> {
  const created = await topUp(sys.url, user, creditMinor, "usd", "long-user-fund");
  expect(created.status).toBe(201);
  await pay(sys.standin.url, created.body.payment_intent_id as string);
  const onboarded = await api(sys.url, "POST", "/v1/connect/account", { user });
  expect(onboarded.status).toBe(200);
  const accountId = onboarded.body.account_id as string;
  await control(sys.standin).post(`/accounts/${accountId}/enable`, {});
  await eventually(
    async () => (await api(sys.url, "GET", "/v1/connect/account", { user })).body.payouts_enabled === true,
    { what: "payouts enabled" },
  );
  await eventually(async () => (await wallet(sys.url, user)).available >= creditMinor, { what: "credit" });
  await settleFunds(sys); // settled at Stripe, and Coffer has read it from the stream
  return { accountId };
}

describe("a 255-character user id", () => {
  it("onboards, tops up and withdraws; every Stripe idempotency key fits in 255 characters", async () => {
    const user = `u:${"ü".repeat(10)}:${"x".repeat(255 - 13)}`;
    expect(user).toHaveLength(255);
    const since = sys.standin.requests().length;
    const { accountId } = await readyUser(user, 5_000);

    const wd = await requestWithdrawal(sys, user, 1_000, "long-user-withdrawal");
    expect(wd.status).toBe(201);
    expect((await approve(sys, wd.body.id as string)).status).toBe(200);
    const row = () => sys.tdb.db("withdrawal_requests").where({ id: wd.body.id }).first();
    await eventually(async () => (await row()).payout_id !== null, { what: "payout created" });
    await control(sys.standin).post(`/payouts/${(await row()).payout_id}/paid`, {});
    await waitForStatus(sys, user, wd.body.id as string, "paid");
    expect(await wallet(sys.url, user)).toEqual({ available: 4_000, pending: 0, held: 0 });
    await settledAndBalanced(sys);

    const keys = sys.standin
      .requests()
      .slice(since)
      .flatMap((r) => (r.idempotencyKey === undefined ? [] : [r.idempotencyKey]));
    const onboarding = `connect:${userKeyHash(user)}:account`;
    expect(keys).toContain(onboarding);
    expect(keys.filter((k) => k.includes("x".repeat(20)))).toEqual([]);
    expect(Math.max(...keys.map((k) => k.length))).toBeLessThanOrEqual(255);
    const acct = await control(sys.standin).stripe.accounts.retrieve(accountId);
    expect(acct.metadata).toEqual({ user_id: user });
  });
});
