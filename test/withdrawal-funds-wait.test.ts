import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withdrawalJobId } from "../src/queue/names.js";
import { api, pay, topUp, wallet } from "./support/api.js";
import { startInProcessWorkers, type InProcessWorkers } from "./support/in-process-workers.js";
import { control } from "./support/lifecycles.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { approve, requestWithdrawal, settledAndBalanced, waitForStatus } from "./support/withdrawals.js";

/**
 * A withdrawal approved while the platform's card funds are still pending at Stripe: Stripe
 * answers `balance_insufficient` for three (simulated) days, then the funds arrive. The
 * withdrawal waits under one job without spending attempts, shows why in `last_error` the whole
 * time, sends no create while it waits, logs a handful of lines (two alerts), and is paid once.
 * The workers run in this process so that the test can move their clock; BullMQ's delays are
 * real, so each backoff is served by moving the clock by the delay and promoting the job.
 */
const DAY_MS = 24 * 3_600_000;
const USER = "funds-wait";
const NET = 965; // 1,000 − (25 + 1%)

let sys: System;
let workers: InProcessWorkers;
beforeAll(async () => {
  // WITHDRAW_UNSETTLED: the user may withdraw card funds Stripe still holds as pending.
  sys = await startSystem({ workers: 0, env: { WITHDRAW_UNSETTLED: "true" } });
  workers = await startInProcessWorkers(sys);
});
afterAll(async () => {
  await workers?.stop();
  await sys?.stop();
});

const row = (id: string) => sys.tdb.db("withdrawal_requests").where({ id }).first();

/** A user with 5,000 credited whose card funds stay pending at Stripe, and payouts enabled. */
async function fundedButUnsettled(): Promise<void> {
  const created = await topUp(sys.url, USER, 5_000, "usd", "funds-wait-top-up");
  expect(created.status).toBe(201);
  await pay(sys.standin.url, created.body.payment_intent_id as string);
  const onboarded = await api(sys.url, "POST", "/v1/connect/account", { user: USER });
  await control(sys.standin).post(`/accounts/${onboarded.body.account_id as string}/enable`, {});
  await eventually(
    async () =>
      (await api(sys.url, "GET", "/v1/connect/account", { user: USER })).body.payouts_enabled === true,
    { what: "payouts enabled" },
  );
  await eventually(async () => (await wallet(sys.url, USER)).available === 5_000, { what: "credit" });
}

describe("a withdrawal waiting for Stripe funds", () => {
  it(
    "waits three days under one job and one key per window, then is paid once",
    { timeout: 240_000 },
    async () => {
      await fundedButUnsettled();
      const requested = await requestWithdrawal(sys, USER, 1_000);
      expect(requested.status).toBe(201);
      const id = requested.body.id as string;
      expect((await approve(sys, id)).status).toBe(200);
      const startedAt = workers.now().getTime();
      const jobId = withdrawalJobId(id);
      const delayedJob = async () =>
        (await eventually(
          async () => {
            const job = await sys.queues.withdrawals.getJob(jobId);
            return job && (await job.getState()) === "delayed" ? job : undefined;
          },
          { intervalMs: 10, what: "the withdrawal job delayed" },
        ))!;

      let day = 0;
      let sweptWhileDelayed = false;
      while (workers.now().getTime() - startedAt < 3 * DAY_MS) {
        const job = await delayedJob();
        const waiting = await row(id);
        expect(waiting.status).toBe("approved");
        expect(waiting.last_error).toMatch(
          /^waiting for Stripe funds since .*balance_insufficient on the transfer/,
        );
        if (!sweptWhileDelayed && job.delay >= 3_600_000) {
          // Left alone for longer than SWEEP_AFTER_MS: the sweeper sees the withdrawal as stale,
          // finds its delayed job and adds no other.
          await new Promise((r) => setTimeout(r, 2.5 * sys.config.SWEEP_AFTER_MS));
          expect(await (await sys.queues.withdrawals.getJob(jobId))!.getState()).toBe("delayed");
          sweptWhileDelayed = true;
        }
        workers.advance(job.delay);
        // Stripe's idempotency keys live 24 h: let the stand-in forget them as each day passes.
        const nowDay = Math.floor((workers.now().getTime() - startedAt) / DAY_MS);
        if (nowDay > day) sys.standin.expireIdempotencyKeys();
        day = nowDay;
        const startsBefore = job.attemptsStarted;
        await job.promote().catch(() => undefined); // a short delay may have run out by itself
        await eventually(
          async () => ((await sys.queues.withdrawals.getJob(jobId))?.attemptsStarted ?? 0) > startsBefore,
          { intervalMs: 10, what: "the job to look again" },
        );
      }
      expect(sweptWhileDelayed).toBe(true);

      // The funds arrive while the job waits; at its next look the transfer goes, and the payout
      // right after it.
      const job = await delayedJob();
      sys.standin.settleBalance();
      workers.advance(job.delay);
      await job.promote().catch(() => undefined);
      const processing = await eventually(
        async () => {
          const r = await row(id);
          return r.payout_id ? r : undefined;
        },
        { what: "the payout" },
      );
      expect(processing).toMatchObject({ status: "processing", last_error: null, funds_waiting_since: null });
      await control(sys.standin).post(`/payouts/${processing.payout_id as string}/paid`);
      await waitForStatus(sys, USER, id, "paid");

      // Paid once.
      const stripe = control(sys.standin).stripe;
      const transfers = await stripe.transfers.list({ transfer_group: id, limit: 100 });
      expect(transfers.data.map((t) => t.amount)).toEqual([NET]);
      const payouts = await stripe.payouts.list(
        { limit: 100 },
        { stripeAccount: processing.connected_account_id as string },
      );
      expect(payouts.data.map((p) => [p.amount, p.metadata?.withdrawal_id])).toEqual([[NET, id]]);
      expect(await wallet(sys.url, USER)).toEqual({ available: 4_000, pending: 0, held: 0 });

      // Two creates in three days: the refused one, and the one after the funds came, under the
      // next key; while waiting the job only read the balance.
      const creates = sys.standin.requests().filter((r) => r.method === "POST" && r.path === "/v1/transfers");
      expect(creates.map((r) => [r.idempotencyKey, r.status])).toEqual([
        [`${id}:transfer`, 400],
        [`${id}:transfer:v1`, 200],
      ]);
      const keys = new Set(creates.map((r) => r.idempotencyKey));
      const windows = Math.ceil((workers.now().getTime() - startedAt) / DAY_MS);
      expect(keys.size).toBeLessThanOrEqual(windows);

      // A handful of lines for three days: the two alerts (start, over a day), the transfer, the
      // payout, the job's end; each look in between is silent.
      const lines = workers.lines.filter((l) => l.withdrawal_id === id && Number(l.level) >= 30);
      const alerts = lines.filter((l) => l.alert === true).map((l) => l.msg);
      expect(alerts).toEqual([
        "withdrawal waits for Stripe funds (balance_insufficient); it retries by itself",
        "withdrawal has waited for Stripe funds for over a day",
      ]);
      expect(lines.length).toBeLessThanOrEqual(8);
      expect(workers.lines.filter((l) => l.msg === "sweeper re-enqueued withdrawal")).toEqual([]);

      // One job, which never failed: BullMQ counts only its finishing attempt.
      const done = (await sys.queues.withdrawals.getJob(jobId))!;
      expect(await done.getState()).toBe("completed");
      expect(done.attemptsMade).toBe(1);
      await settledAndBalanced(sys);
    },
  );
});
