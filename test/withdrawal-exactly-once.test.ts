import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, wallet } from "./support/api.js";
import { control } from "./support/lifecycles.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { approve, readyUser, requestWithdrawal, settledAndBalanced } from "./support/withdrawals.js";

/**
 * Where a retry could pay twice. Stripe accepts the transfer (and then the
 * payout) and the connection drops before we hear back; Stripe's 24-hour
 * idempotency window passes before the job's retry; later an operator retries
 * the finished job in Bull Board. Exactly one transfer and one payout exist.
 */
let sys: System;
beforeAll(async () => {
  // A slow backoff leaves time to expire Stripe's keys between a dropped create and its retry.
  sys = await startSystem({ workers: 1, env: { JOB_BACKOFF_MS: "2500" } });
});
afterAll(async () => sys?.stop());

const NET = 1_955; // 2,000 − (25 + 1% of 2,000)

describe("a withdrawal is paid exactly once", () => {
  it(
    "survives dropped connections after Stripe acted, expired keys, and a Bull Board retry",
    { timeout: 90_000 },
    async () => {
      const { accountId } = await readyUser(sys, "once", 3_000);
      const id = (await requestWithdrawal(sys, "once", 2_000)).body.id as string;
      const stripe = control(sys.standin).stripe;
      const row = () => sys.tdb.db("withdrawal_requests").where({ id }).first();
      // stripe-node retries a reset connection once by itself, so drop twice to make the job see it.
      sys.standin.injectFault({ method: "POST", pathPrefix: "/v1/transfers", kind: "drop_after", times: 2 });
      sys.standin.injectFault({ method: "POST", pathPrefix: "/v1/payouts", kind: "drop_after", times: 2 });
      expect((await approve(sys, id)).status).toBe(200);

      // The transfer exists at Stripe but the job never heard back. The key window passes before
      // the retry, so only the lookup by transfer_group stands between us and a second transfer.
      await eventually(async () => (await stripe.transfers.list({ transfer_group: id })).data.length === 1, {
        what: "transfer at Stripe",
      });
      expect((await row()).transfer_id).toBeNull();
      sys.standin.expireIdempotencyKeys();
      // The same for the payout, found by its metadata on the connected account.
      await eventually(
        async () => (await stripe.payouts.list({}, { stripeAccount: accountId })).data.length === 1,
        { what: "payout at Stripe" },
      );
      expect((await row()).payout_id).toBeNull();
      sys.standin.expireIdempotencyKeys();
      await eventually(async () => (await row()).payout_id !== null, { what: "payout recorded" });
      expect(await row()).toMatchObject({ status: "processing", transfer_attempts: 1, payout_attempts: 1 });

      // An operator retries the finished job from Bull Board: it finds everything done.
      const jobId = `${id}-execute`;
      const finishedBefore = (await sys.queues.withdrawals.getJob(jobId))!.finishedOn!;
      const retry = await api(sys.url, "PUT", `/admin/queues/api/queues/withdrawals/${jobId}/retry`, {
        user: "ops",
        role: "admin",
      });
      expect(retry.status).toBe(204);
      const rerun = await eventually(
        async () => {
          const job = await sys.queues.withdrawals.getJob(jobId);
          return (job?.finishedOn ?? 0) > finishedBefore && (await job!.getState()) === "completed"
            ? job
            : undefined;
        },
        { what: "the retried job to run" },
      );
      expect(rerun!.returnvalue).toBe("nothing_to_do:processing");

      expect(
        (await stripe.transfers.list({ transfer_group: id, limit: 100 })).data.map((t) => t.amount),
      ).toEqual([NET]);
      const payouts = await stripe.payouts.list({ limit: 100 }, { stripeAccount: accountId });
      expect(payouts.data.map((p) => [p.amount, p.metadata?.withdrawal_id])).toEqual([[NET, id]]);
      expect(await wallet(sys.url, "once")).toEqual({ available: 1_000, pending: 0, held: 0 });
      const audit = await sys.tdb.db("admin_audit_log").where({ action: "bull_board.put" }).pluck("target");
      expect(audit).toContain(`/api/queues/withdrawals/${jobId}/retry`);
      await settledAndBalanced(sys);
    },
  );
});

describe("a transfer reversed before Coffer recorded it", () => {
  it(
    "is booked as returned, and the user gets the money back exactly once",
    { timeout: 90_000 },
    async () => {
      await readyUser(sys, "early-reversal", 3_000);
      const id = (await requestWithdrawal(sys, "early-reversal", 2_000)).body.id as string;
      const stripe = control(sys.standin).stripe;
      const row = () => sys.tdb.db("withdrawal_requests").where({ id }).first();
      sys.standin.injectFault({ method: "POST", pathPrefix: "/v1/transfers", kind: "drop_after", times: 2 });
      expect((await approve(sys, id)).status).toBe(200);
      const transfer = await eventually(
        async () => (await stripe.transfers.list({ transfer_group: id })).data[0]!,
        { what: "transfer at Stripe" },
      );
      expect((await row()).transfer_id).toBeNull();

      // Someone reverses the stray transfer from the Dashboard; its transfer.reversed arrives first.
      await control(sys.standin).post(`/transfers/${transfer.id}/reverse`);
      await eventually(async () => (await row()).status === "reversed", { what: "reversed" });
      await settledAndBalanced(sys);
      expect(await wallet(sys.url, "early-reversal")).toEqual({ available: 3_000, pending: 0, held: 0 });
      expect(
        await sys.tdb.db("wallet_ledger_transactions").where({ source_id: id }).orderBy("id").pluck("kind"),
      ).toEqual(["withdrawal_hold", "withdrawal_transferred", "withdrawal_returned"]);
      expect(await row()).toMatchObject({ transfer_id: transfer.id, payout_id: null });
      const reversedEvent = await sys.tdb
        .db("stripe_webhook_events")
        .where({ type: "transfer.reversed" })
        .first();
      expect(reversedEvent.status).toBe("processed");
    },
  );
});
