import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wallet } from "./support/api.js";
import { deliverAll, expectInvariants, openEventCount, seedPaidTopUps } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * Three worker processes, one wallet, 500 credits arriving concurrently. Every
 * credit locks the same balance row; the result must be exact, with no lost
 * update and no deadlock surfacing as a job failure.
 */
const N = 500;
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 3, env: { WORKER_CONCURRENCY: "16" } });
});
afterAll(async () => sys?.stop());

describe("one hot wallet under three workers", () => {
  it(`applies ${N} concurrent credits exactly`, { timeout: 180_000 }, async () => {
    const amounts = Array.from({ length: N }, (_, i) => 50 + (i % 97));
    const paid = await seedPaidTopUps(
      sys,
      amounts.map((amountMinor) => ({ user: "hot", amountMinor })),
      16,
    );
    const events = paid.flatMap((p) => p.events);
    expect(events.length).toBe(2 * N); // payment_intent.succeeded + charge.succeeded each
    await deliverAll(sys, events, 40);

    await eventually(async () => (await openEventCount(sys)) === 0, {
      timeoutMs: 120_000,
      what: "all events processed",
    });
    const total = amounts.reduce((a, b) => a + b, 0);
    expect(await wallet(sys.url, "hot")).toEqual({ available: total, pending: 0, held: 0 });
    const failed = await sys.tdb
      .db("stripe_webhook_events")
      .where({ status: "failed" })
      .count({ n: "*" })
      .first();
    expect(Number(failed?.n)).toBe(0);
    await expectInvariants(sys);
    // The credits shared transactions (group commit): a batch's postings carry its one xmin.
    const { rows } = await sys.tdb.db.raw<{ rows: Array<{ n: number }> }>(
      `SELECT count(DISTINCT xmin::text)::int AS n FROM wallet_ledger_transactions WHERE kind = 'payment_captured'`,
    );
    expect(rows[0]!.n).toBeLessThan(N);

    // All three processes did work, and none logged a failed attempt (deadlocks are retried inside the transaction).
    const perWorker = sys.workers.map(
      (w) => w.lines.filter((l) => l.msg === "job done" && l.outcome === "processed").length,
    );
    expect(perWorker.every((n) => n > 0)).toBe(true);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(2 * N);
    const failures = sys.workers.flatMap((w) =>
      w.lines.filter((l) => l.msg === "job failed; will retry" || l.msg === "job done: event failed"),
    );
    expect(failures).toEqual([]);
  });
});
