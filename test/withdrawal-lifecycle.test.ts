import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, wallet } from "./support/api.js";
import { deliver } from "./support/events.js";
import { control } from "./support/lifecycles.js";
import { eventually, startSystem, type System } from "./support/system.js";
import {
  approve,
  readyUser,
  requestWithdrawal,
  settledAndBalanced,
  waitForStatus,
} from "./support/withdrawals.js";

/**
 * Every path a withdrawal can take, with the stand-in playing Stripe and real
 * workers paying out. Each ends with exact balances and the invariants holding.
 * Amounts: 1,000 requested, fee 25 + 1% = 35, net 965.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
});
afterAll(async () => sys?.stop());

const ledgerKinds = async (id: string) =>
  sys.tdb.db("wallet_ledger_transactions").where({ source_id: id }).orderBy("id").pluck("kind");
const row = (id: string) => sys.tdb.db("withdrawal_requests").where({ id }).first();

async function approved(user: string) {
  await readyUser(sys, user, 5_000);
  const wd = await requestWithdrawal(sys, user, 1_000);
  expect(wd.status).toBe(201);
  expect(wd.body).toEqual({
    id: expect.stringMatching(/^wd_/),
    status: "pending_review",
    amount_minor: 1_000,
    fee_minor: 35,
    net_minor: 965,
    currency: "usd",
  });
  expect(await wallet(sys.url, user)).toEqual({ available: 4_000, pending: 0, held: 1_000 });
  return wd.body.id as string;
}

describe("withdrawal paths", () => {
  it("cancel by the owner releases the hold, and a second cancel is refused", async () => {
    await readyUser(sys, "w-cancel", 2_000);
    const wd = await requestWithdrawal(sys, "w-cancel", 1_000);
    const first = await api(sys.url, "POST", `/v1/withdrawals/${wd.body.id}/cancel`, { user: "w-cancel" });
    expect(first.body.status).toBe("canceled");
    const again = await api(sys.url, "POST", `/v1/withdrawals/${wd.body.id}/cancel`, { user: "w-cancel" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("withdrawal_not_pending");
    expect(await wallet(sys.url, "w-cancel")).toEqual({ available: 2_000, pending: 0, held: 0 });
    expect(await ledgerKinds(wd.body.id)).toEqual(["withdrawal_hold", "withdrawal_release"]);
    await settledAndBalanced(sys);
  });

  it("reject by an admin needs a reason, releases the hold and is audited", async () => {
    const id = await approved("w-reject");
    const noReason = await api(sys.url, "POST", `/admin/withdrawals/${id}/reject`, {
      user: "ops",
      role: "admin",
      body: {},
    });
    expect(noReason.status).toBe(422);
    const res = await api(sys.url, "POST", `/admin/withdrawals/${id}/reject`, {
      user: "ops",
      role: "admin",
      body: { reason: "looks like fraud" },
    });
    expect(res.body).toMatchObject({ status: "rejected", reason: "looks like fraud", decided_by: "ops" });
    expect(await wallet(sys.url, "w-reject")).toEqual({ available: 5_000, pending: 0, held: 0 });
    const audit = await sys.tdb.db("admin_audit_log").where({ target: id });
    expect(audit).toEqual([
      expect.objectContaining({
        actor: "ops",
        action: "withdrawal.reject",
        reason: "looks like fraud",
        before: expect.objectContaining({ status: "pending_review" }),
        after: expect.objectContaining({ status: "rejected" }),
      }),
    ]);
    expect((await approve(sys, id)).status).toBe(409);
    await settledAndBalanced(sys);
  });

  it("approved, transferred, paid out: paid once even when payout.paid arrives twice", async () => {
    const id = await approved("w-paid");
    expect((await approve(sys, id)).status).toBe(200);
    await eventually(() => row(id).then((r) => r.payout_id !== null));
    const r = await row(id);
    expect(r.status).toBe("processing");
    expect(await wallet(sys.url, "w-paid")).toEqual({ available: 4_000, pending: 0, held: 0 });
    expect(await ledgerKinds(id)).toEqual(["withdrawal_hold", "withdrawal_transferred"]);

    sys.standin.setWebhook(undefined);
    await control(sys.standin).post(`/payouts/${r.payout_id}/paid`);
    const paidEvent = sys.standin
      .events()
      .find((e) => e.type === "payout.paid" && (e.data.object as { id: string }).id === r.payout_id)!;
    expect(paidEvent.account).toBe(r.connected_account_id);
    await Promise.all([
      deliver(sys.url, paidEvent as never),
      deliver(sys.url, { ...paidEvent, id: `${paidEvent.id}x` } as never),
    ]);
    await waitForStatus(sys, "w-paid", id, "paid");
    await settledAndBalanced(sys);
    expect(await ledgerKinds(id)).toEqual(["withdrawal_hold", "withdrawal_transferred"]);
    const revenue = await sys.tdb
      .db("wallet_ledger")
      .where({ account: "fee_revenue" })
      .sum({ s: "amount_minor" })
      .first();
    expect(Number(revenue?.s)).toBeGreaterThanOrEqual(35);
  });

  it("payout failed: the transfer is reversed, the money returns, status failed", async () => {
    const id = await approved("w-payfail");
    await approve(sys, id);
    await eventually(() => row(id).then((r) => r.payout_id !== null));
    await control(sys.standin).post(`/payouts/${(await row(id)).payout_id}/fail`, {
      failure_code: "account_closed",
    });
    await waitForStatus(sys, "w-payfail", id, "failed");
    await settledAndBalanced(sys);
    expect(await wallet(sys.url, "w-payfail")).toEqual({ available: 5_000, pending: 0, held: 0 });
    expect(await ledgerKinds(id)).toEqual([
      "withdrawal_hold",
      "withdrawal_transferred",
      "withdrawal_returned",
    ]);
    const transfers = await control(sys.standin).stripe.transfers.list({ transfer_group: id });
    expect(transfers.data).toHaveLength(1);
    expect(transfers.data[0]!.reversed).toBe(true);
    // Our own reversal causes transfer.reversed too: the status stays failed, nothing is returned twice.
    expect((await row(id)).status).toBe("failed");
  });

  it("transfer reversed by Stripe: the money returns, status reversed", async () => {
    const id = await approved("w-reversed");
    await approve(sys, id);
    await eventually(() => row(id).then((r) => r.payout_id !== null));
    // The payout already drew the connected balance; Stripe lets the platform reverse into a negative one.
    await control(sys.standin).post(`/transfers/${(await row(id)).transfer_id}/reverse`, {
      allow_negative: true,
    });
    await waitForStatus(sys, "w-reversed", id, "reversed");
    await settledAndBalanced(sys);
    expect(await wallet(sys.url, "w-reversed")).toEqual({ available: 5_000, pending: 0, held: 0 });
    expect(await ledgerKinds(id)).toEqual([
      "withdrawal_hold",
      "withdrawal_transferred",
      "withdrawal_returned",
    ]);
  });

  it("a Stripe 4xx on the transfer fails the withdrawal and releases the hold", async () => {
    const id = await approved("w-4xx");
    const { connected_account_id: acct } = await row(id);
    await control(sys.standin).post(`/accounts/${acct}/require`, { currently_due: ["external_account"] });
    await approve(sys, id);
    await waitForStatus(sys, "w-4xx", id, "failed");
    await settledAndBalanced(sys);
    expect(await wallet(sys.url, "w-4xx")).toEqual({ available: 5_000, pending: 0, held: 0 });
    expect(await ledgerKinds(id)).toEqual(["withdrawal_hold", "withdrawal_release"]);
    expect((await row(id)).last_error).toBeTruthy();
  });

  it("balance_insufficient (top-up funds still pending at Stripe) is retried, then succeeds", async () => {
    const id = await approved("w-insufficient");
    sys.standin.injectFault({
      method: "POST",
      pathPrefix: "/v1/transfers",
      kind: "balance_insufficient",
      times: 2,
    });
    await approve(sys, id);
    await eventually(() => row(id).then((r) => r.payout_id !== null), { timeoutMs: 30_000 });
    const r = await row(id);
    expect(r).toMatchObject({ status: "processing", transfer_attempts: 3 });
    const transfers = await control(sys.standin).stripe.transfers.list({ transfer_group: id });
    expect(transfers.data).toHaveLength(1);
    await settledAndBalanced(sys);
  });

  it.each(["needs_response", "under_review", "appeal_needs_response", "appeal_under_review"])(
    "approval is refused while a dispute is %s",
    async (status) => {
      const user = `w-blocked-${status}`;
      const id = await approved(user);
      await sys.tdb.db("stripe_disputes").insert({
        id: `dp_blocking_${status}`,
        payment_intent_id: "pi_x",
        user_id: user,
        amount_minor: 100,
        currency: "usd",
        status,
      });
      const res = await approve(sys, id);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("dispute_open");
      expect((await row(id)).status).toBe("pending_review");
    },
  );

  it("approval is refused while the wallet is negative or a dispute is open", async () => {
    const id = await approved("w-blocked");
    await sys.tdb.db("stripe_disputes").insert({
      id: "dp_blocking",
      payment_intent_id: "pi_x",
      user_id: "w-blocked",
      amount_minor: 100,
      currency: "usd",
      status: "needs_response",
    });
    const res = await approve(sys, id);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("dispute_open");
    expect((await row(id)).status).toBe("pending_review");
  });
});
