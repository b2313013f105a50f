import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wallet } from "./support/api.js";
import { stripeFor } from "./support/stripe-client.js";
import { approve, readyUser, requestWithdrawal, settledAndBalanced } from "./support/withdrawals.js";
import { LIFECYCLES, playRun, referenceSignature, signature, type Run } from "./support/lifecycles.js";
import { deliverAll, expectInvariants, openEventCount, seedPaidTopUps } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * A worker process SIGKILLed in the middle of its jobs. Stripe is made slow
 * (each PaymentIntent retrieve is held 300 ms) so that at the kill several jobs
 * are provably mid-flight: their events are left in `processing`. After a new
 * worker starts, BullMQ's stalled-job check hands those jobs out again and every
 * event is applied exactly once.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1, env: { WORKER_CONCURRENCY: "6" } });
});
afterAll(async () => sys?.stop());

describe("a worker killed mid-job", () => {
  it("loses nothing and applies nothing twice after a restart", { timeout: 120_000 }, async () => {
    const paid = await seedPaidTopUps(
      sys,
      Array.from({ length: 60 }, (_, i) => ({ user: `wk-${i % 12}`, amountMinor: 100 + i })),
    );
    sys.standin.injectFault({
      method: "GET",
      pathPrefix: "/v1/payment_intents/",
      kind: "delay",
      delayMs: 300,
      times: 10_000,
    });
    await deliverAll(
      sys,
      paid.flatMap((p) => p.events),
      10,
    );

    const db = sys.tdb.db;
    const count = async (status: string) =>
      Number((await db("stripe_webhook_events").where({ status }).count({ n: "*" }).first())?.n);
    await eventually(async () => (await count("processed")) >= 10 && (await count("processing")) > 0, {
      what: "jobs in flight",
    });
    await sys.stopWorker(sys.workers[0]!, "SIGKILL");
    const interrupted = await db("stripe_webhook_events").where({ status: "processing" }).pluck("id");
    expect(interrupted.length).toBeGreaterThan(0); // a dead process completes nothing: these were mid-job
    expect(await openEventCount(sys)).toBeGreaterThan(0);

    await sys.startWorker();
    await eventually(async () => (await openEventCount(sys)) === 0, {
      timeoutMs: 90_000,
      what: "all events processed",
    });

    const expected = new Map<string, number>();
    for (const p of paid) expected.set(p.user, (expected.get(p.user) ?? 0) + p.amountMinor);
    for (const [user, total] of expected) expect((await wallet(sys.url, user)).available).toBe(total);
    const credits = await db("wallet_ledger_transactions")
      .where({ kind: "payment_captured" })
      .count({ n: "*" })
      .first();
    expect(Number(credits?.n)).toBe(paid.length);
    // The interrupted events really were run a second time.
    const rerun = await db("stripe_webhook_events")
      .whereIn("id", interrupted)
      .where("attempts", ">=", 2)
      .count({ n: "*" })
      .first();
    expect(Number(rerun?.n)).toBe(interrupted.length);
    expect(await count("failed")).toBe(0);
    await expectInvariants(sys);
  });
});

describe("a worker killed mid-job on refunds and disputes", () => {
  it("applies each refund and dispute exactly once after a restart", { timeout: 120_000 }, async () => {
    sys.standin.clearFaults();
    const chosen = LIFECYCLES.filter((l) => l.name !== "an inquiry");
    const expected = new Map<string, string[]>();
    for (const [i, lc] of chosen.entries())
      expected.set(lc.name, await referenceSignature(sys, lc, `crash-ref-${i}`));
    const runs: Run[] = [];
    for (let n = 0; n < 24; n++)
      runs.push(await playRun(sys.url, sys.standin, chosen[n % chosen.length]!, `crash-${n}`));

    // Slow Stripe down on refunds, disputes and charges so jobs are mid-flight at the kill.
    for (const pathPrefix of ["/v1/refunds", "/v1/disputes/", "/v1/charges/"]) {
      sys.standin.injectFault({ method: "GET", pathPrefix, kind: "delay", delayMs: 300, times: 10_000 });
    }
    const forced = runs.flatMap((r) => r.events.filter((e) => e.type !== "payment_intent.succeeded"));
    await deliverAll(sys, forced as unknown as Array<Record<string, unknown>>, 10);
    const db = sys.tdb.db;
    const processing = async () =>
      Number(
        (await db("stripe_webhook_events").where({ status: "processing" }).count({ n: "*" }).first())?.n,
      );
    await eventually(async () => (await processing()) > 0, { what: "refund/dispute jobs in flight" });
    const worker = sys.workers.find((w) => w.proc.exitCode === null && w.proc.signalCode === null)!;
    await sys.stopWorker(worker, "SIGKILL");
    expect(await processing()).toBeGreaterThan(0);

    await sys.startWorker();
    await eventually(async () => (await openEventCount(sys)) === 0, {
      timeoutMs: 90_000,
      what: "all events processed",
    });
    sys.standin.clearFaults();
    for (const r of runs) {
      expect({ user: r.user, postings: await signature(db, r) }).toEqual({
        user: r.user,
        postings: expected.get(r.lifecycle.name),
      });
      expect((await wallet(sys.url, r.user)).available).toBe(r.lifecycle.expectAvailable);
    }
    expect(await db("stripe_webhook_events").where({ status: "failed" }).pluck("id")).toEqual([]);
    await expectInvariants(sys);
  });
});

describe("a worker killed while paying withdrawals", () => {
  it("pays each approved withdrawal exactly once after a restart", { timeout: 120_000 }, async () => {
    sys.standin.clearFaults();
    const users = Array.from({ length: 6 }, (_, i) => `crash-wd-${i}`);
    const ids: string[] = [];
    for (const u of users) {
      await readyUser(sys, u, 2_000);
      ids.push((await requestWithdrawal(sys, u, 1_000)).body.id as string);
    }
    // Slow Stripe so that transfers and payouts are in flight when the worker dies.
    for (const pathPrefix of ["/v1/transfers", "/v1/payouts"]) {
      sys.standin.injectFault({ method: "POST", pathPrefix, kind: "delay", delayMs: 400, times: 10_000 });
    }
    for (const id of ids) expect((await approve(sys, id)).status).toBe(200);
    const db = sys.tdb.db;
    await eventually(
      async () =>
        Number(
          (
            await db("withdrawal_requests")
              .whereIn("id", ids)
              .where("transfer_attempts", ">", 0)
              .count({ n: "*" })
              .first()
          )?.n,
        ) > 0,
      {
        what: "transfers in flight",
      },
    );
    const worker = sys.workers.find((w) => w.proc.exitCode === null && w.proc.signalCode === null)!;
    await sys.stopWorker(worker, "SIGKILL");
    const unfinished = await db("withdrawal_requests")
      .whereIn("id", ids)
      .whereNull("payout_id")
      .count({ n: "*" })
      .first();
    expect(Number(unfinished?.n)).toBeGreaterThan(0);

    await sys.startWorker();
    await eventually(
      async () =>
        Number(
          (
            await db("withdrawal_requests")
              .whereIn("id", ids)
              .whereNotNull("payout_id")
              .count({ n: "*" })
              .first()
          )?.n,
        ) === ids.length,
      {
        timeoutMs: 90_000,
        what: "every payout recorded",
      },
    );
    sys.standin.clearFaults();
    const stripe = stripeFor(sys.standin);
    for (const [i, id] of ids.entries()) {
      expect((await stripe.transfers.list({ transfer_group: id })).data.map((t) => t.amount)).toEqual([965]);
      const { connected_account_id: acct } = await db("withdrawal_requests").where({ id }).first();
      const payouts = await stripe.payouts.list({ limit: 100 }, { stripeAccount: acct });
      expect(payouts.data.filter((p) => p.metadata?.withdrawal_id === id)).toHaveLength(1);
      expect(await wallet(sys.url, users[i]!)).toEqual({ available: 1_000, pending: 0, held: 0 });
    }
    await settledAndBalanced(sys);
  });
});
