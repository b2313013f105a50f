import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wallet } from "./support/api.js";
import { deliverAll, expectInvariants, openEventCount, seedPaidTopUps } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * A worker SIGKILLed while a group commit is open. The test holds, in its own open transaction,
 * the ledger key of one payment (`pi_…:captured`), so the batch that reaches that payment's
 * posting waits inside its transaction, after the jobs before it in the batch have written their
 * postings. At the kill Postgres rolls the whole batch back; a new worker gets the jobs again
 * from BullMQ, and every credit is applied exactly once.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({
    workers: 1,
    // A long window, so the first eight jobs surely share one batch.
    env: { WORKER_CONCURRENCY: "8", GROUP_COMMIT_WINDOW_MS: "1500" },
  });
});
afterAll(async () => sys?.stop());

describe("a worker killed mid-batch", () => {
  it("applies every event exactly once after a restart", { timeout: 180_000 }, async () => {
    const paid = await seedPaidTopUps(
      sys,
      Array.from({ length: 40 }, (_, i) => ({ user: `gc-${i % 5}`, amountMinor: 200 + i })),
    );
    // gc-4 sorts last of the five wallets, so its batch runs its companions' postings before it.
    const blocked = paid[4]!;
    const blocker = new pg.Client({ connectionString: sys.tdb.url });
    await blocker.connect();
    await blocker.query("BEGIN");
    await blocker.query(
      `INSERT INTO wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, currency)
       VALUES ($1, 'held by the test', 'payment_captured', $2, 'usd')`,
      [`${blocked.piId}:captured`, blocked.piId],
    );

    const worker = sys.workers[0]!;
    const succeeded = paid.map((p) => p.events.find((e) => e.type === "payment_intent.succeeded")!);
    await deliverAll(sys, succeeded.slice(0, 8), 8);
    // The batch with the blocked payment waits on the test's key, inside its transaction.
    const waiter = await eventually(
      async () => {
        // From the pool, not the blocker: inside a transaction the activity view is a snapshot.
        const { rows } = await sys.tdb.db.raw<{ rows: Array<{ pid: number }> }>(
          `SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'
              AND query LIKE '%coffer_post_posting%'`,
        );
        return rows[0]?.pid;
      },
      { what: "a batch waiting on the held key", timeoutMs: 60_000 },
    );
    // …after other jobs of its batch wrote their entries (an INSERT holds RowExclusiveLock on the table).
    const { rows: held } = await sys.tdb.db.raw<{ rows: Array<{ n: number }> }>(
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE pid = ? AND relation = 'wallet_ledger'::regclass AND mode = 'RowExclusiveLock' AND granted`,
      [waiter!],
    );
    expect(held[0]!.n).toBe(1);
    const db = sys.tdb.db;
    const inFlight = await db("stripe_webhook_events").where({ status: "processing" }).pluck("id");
    expect(inFlight.length).toBeGreaterThan(1);
    await sys.stopWorker(worker, "SIGKILL");
    await blocker.query("ROLLBACK");
    await blocker.end();

    // Nothing of the killed batch committed: its jobs' events are still open.
    expect(await db("stripe_webhook_events").whereIn("id", inFlight).where({ status: "processed" })).toEqual(
      [],
    );
    await sys.startWorker();
    await deliverAll(sys, succeeded.slice(8), 10);
    await eventually(async () => (await openEventCount(sys)) === 0, {
      timeoutMs: 120_000,
      what: "all events processed",
    });
    const expected = new Map<string, number>();
    for (const p of paid) expected.set(p.user, (expected.get(p.user) ?? 0) + p.amountMinor);
    for (const [user, total] of expected) expect((await wallet(sys.url, user)).available).toBe(total);
    const credits = await db("wallet_ledger_transactions")
      .where({ kind: "payment_captured" })
      .pluck("source_id");
    expect(credits.sort()).toEqual(paid.map((p) => p.piId).sort());
    // Credits shared transactions: a batch's postings carry its one transaction id (xmin).
    const { rows } = await db.raw<{ rows: Array<{ n: number }> }>(
      `SELECT count(DISTINCT xmin::text)::int AS n FROM wallet_ledger_transactions WHERE kind = 'payment_captured'`,
    );
    expect(rows[0]!.n).toBeLessThan(paid.length);
    expect(await db("stripe_webhook_events").where({ status: "failed" }).pluck("id")).toEqual([]);
    await expectInvariants(sys);
  });
});
