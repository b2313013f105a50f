import type { Db } from "../../src/db/knex.js";
import { checkInvariants } from "../../src/db/stores/ledger-checks.js";
import { postAll } from "./load.js";
import { signedRequest } from "./payloads.js";
import type { Seeded } from "./seed.js";
import { summarize } from "./stats.js";

export interface ThroughputResult {
  wallets: number;
  events: number;
  /** Time to get every delivery a 2xx. */
  postS: number;
  /** From the first delivery to the last event's `processed_at`. */
  totalS: number;
  eventsPerS: number;
  /** processed_at − received_at per event: queueing plus the job itself. */
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  processed: number;
  failed: number;
  /** Events not terminal when the wait gave up (0 in a healthy run). */
  unfinished: number;
  /** The worker process's CPU per event, in ms; the rest of an event's cost is Postgres, Redis and Stripe. */
  workerCpuMsPerEvent: number;
  /** Job attempts beyond the first: transient failures the worker retried. */
  jobRetries: number;
  /** Coffer's GETs at the stand-in per event while this batch ran (its request log; SPEC's target ≤ 0.1). */
  stripeReadsPerEvent: number;
  /** Deadlocks Postgres reported in the bench database during the run (each costs a transaction retry). */
  deadlocks: number;
  postRetries: number;
  postLost: number;
  expectedMinor: number;
  creditedMinor: number;
  exactWallets: number;
  invariantsOk: boolean;
  violations: number;
  negativeBalances: number;
}

/** Binds everything but the events, for a phase that times several batches the same way. */
export function throughputRunner(o: Omit<Parameters<typeof runThroughput>[0], "seeded">) {
  return (seeded: Seeded) => runThroughput({ ...o, seeded });
}

/**
 * Delivers the seeded events, signed, at `connections` concurrent requests
 * and waits until the worker has finished every one. The clock starts at
 * the first delivery; the worker is already up and idle.
 */
export async function runThroughput(o: {
  db: Db;
  webUrl: string;
  secret: string;
  seeded: Seeded;
  connections: number;
  waitTimeoutS: number;
  workerCpuMs: () => number;
  /** Coffer's reads at Stripe so far (the stand-in's request log, harness calls left out). */
  stripeReads: () => number;
}): Promise<ThroughputResult> {
  const ids = o.seeded.events.map((e) => e.id);
  const requests = o.seeded.events.map((e) => signedRequest(JSON.stringify(e), o.secret));

  const deadlocksBefore = await deadlockCount(o.db);
  const cpuBefore = o.workerCpuMs();
  const readsBefore = o.stripeReads();
  const startedAtMs = Date.now();
  const posted = await postAll(`${o.webUrl}/webhooks/stripe`, o.connections, requests);
  const counts = await waitUntilTerminal(o.db, ids, o.waitTimeoutS * 1000);
  const workerCpuMs = o.workerCpuMs() - cpuBefore;
  const stripeReads = o.stripeReads() - readsBefore;
  const deadlocks = (await deadlockCount(o.db)) - deadlocksBefore;

  // Postgres and this process share the machine's clock, so processed_at can be compared with Date.now().
  const { rows } = await o.db.raw<{
    rows: Array<{ lag_ms: number | null; done_ms: number | null; attempts: number }>;
  }>(
    `SELECT extract(epoch FROM processed_at - received_at)::float8 * 1000 AS lag_ms,
            extract(epoch FROM processed_at)::float8 * 1000 AS done_ms, attempts
       FROM stripe_webhook_events WHERE id = ANY(?)`,
    [ids],
  );
  const lags = rows.flatMap((r) => (r.lag_ms === null ? [] : [r.lag_ms]));
  const lastDoneMs = Math.max(...rows.map((r) => r.done_ms ?? 0));
  const totalS = (lastDoneMs - startedAtMs) / 1000;
  const lag = summarize(lags);
  const totals = await checkTotals(o.db, o.seeded.expectedByUser);
  const report = await checkInvariants(o.db);

  return {
    wallets: o.seeded.wallets,
    events: ids.length,
    postS: posted.seconds,
    totalS,
    eventsPerS: counts.processed / totalS,
    lagP50Ms: lag.p50Ms,
    lagP99Ms: lag.p99Ms,
    lagMaxMs: lag.maxMs,
    processed: counts.processed,
    failed: counts.failed,
    unfinished: ids.length - counts.processed - counts.failed,
    workerCpuMsPerEvent: workerCpuMs / ids.length,
    jobRetries: rows.reduce((n, r) => n + Math.max(0, r.attempts - 1), 0),
    stripeReadsPerEvent: stripeReads / ids.length,
    deadlocks,
    postRetries: posted.retries,
    postLost: posted.lost,
    ...totals,
    invariantsOk: report.ok,
    violations: report.violations.length,
    negativeBalances: report.negativeBalances.length,
  };
}

/** pg_stat_database lags a little behind commits; over a run of seconds that is noise, not error. */
async function deadlockCount(db: Db): Promise<number> {
  const { rows } = await db.raw<{ rows: Array<{ deadlocks: number }> }>(
    `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`,
  );
  return rows[0]?.deadlocks ?? 0;
}

/** Polls until every event in `ids` is processed, failed or ignored, or the timeout passes. */
export async function waitUntilTerminal(
  db: Db,
  ids: string[],
  timeoutMs: number,
): Promise<{ processed: number; failed: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.raw<{ rows: Array<{ processed: number; failed: number; ignored: number }> }>(
      `SELECT count(*) FILTER (WHERE status = 'processed')::int AS processed,
              count(*) FILTER (WHERE status = 'failed')::int AS failed,
              count(*) FILTER (WHERE status = 'ignored')::int AS ignored
         FROM stripe_webhook_events WHERE id = ANY(?)`,
      [ids],
    );
    const c = rows[0]!;
    if (c.processed + c.failed + c.ignored >= ids.length || Date.now() > deadline) return c;
    // 50 ms polls bound the measurement error well below a run's length without loading Postgres.
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every wallet must hold exactly the sum of its top-ups: no credit lost, none applied twice. */
async function checkTotals(
  db: Db,
  expected: Map<string, number>,
): Promise<{ expectedMinor: number; creditedMinor: number; exactWallets: number }> {
  const users = [...expected.keys()];
  const { rows } = await db.raw<{ rows: Array<{ user_id: string; available_minor: number }> }>(
    `SELECT user_id, available_minor FROM user_wallet_balances WHERE currency = 'usd' AND user_id = ANY(?)`,
    [users],
  );
  const actual = new Map(rows.map((r) => [r.user_id, r.available_minor]));
  let expectedMinor = 0;
  let creditedMinor = 0;
  let exactWallets = 0;
  for (const [user, want] of expected) {
    const got = actual.get(user) ?? 0;
    expectedMinor += want;
    creditedMinor += got;
    if (got === want) exactWallets++;
  }
  return { expectedMinor, creditedMinor, exactWallets };
}
