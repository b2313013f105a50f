import { performance } from "node:perf_hooks";
import { previousUtcDay } from "../../src/flows/reconcile-window.js";
import { createRun } from "../../src/db/stores/reconciliation.js";
import { runReconciliation, type RunReport } from "../../src/flows/reconcile-run.js";
import { patiently, type StreamProgress } from "../../src/flows/reconcile-stream.js";
import { newId } from "../../src/ids.js";
import { profiled, type ProfileSummary } from "./cpu-profile.js";
import type { Cleanup } from "./env.js";
import { createReconcileEnv, withClient, type ReconcileEnv, type StandinMode } from "./reconcile-env.js";
import { measure, PgCpu, sqlTimer, type Measured, type Probes, type SqlTotal } from "./reconcile-measure.js";
import { analyze, ledgerStripePosition, seedHistory, seedLedger, type Day } from "./reconcile-seed.js";

/**
 * One size of the reconciliation bench: seed a day on both sides, read both
 * sides once (the floor), then reconcile the day, one after the other against
 * the same database and stand-in. The floor goes first, so the reconciliation
 * finds the stand-in's code and Postgres's buffers as warm as a worker would.
 */
export interface SizeResult {
  lines: number;
  cold: boolean;
  standin: StandinMode;
  entries: number;
  users: number;
  seedMs: { standin: number; ledger: number };
  floor: Measured & { pagingMs: number; ledgerReadMs: number; pages: number };
  reconcile: Measured & {
    /** From the start to the last page saved: paging, toLines, savePage. */
    streamMs: number;
    /** Every PROGRESS_EVERY pages: whether pages slow down or memory climbs as the day goes on. */
    progress: PageMark[];
    pages: number;
    sql: SqlTotal[];
    profile?: ProfileSummary;
  };
  result: {
    status: string;
    stripeMatched: number | null;
    stripeUnmatched: number | null;
    ledgerMatched: number | null;
    ledgerUnmatched: number | null;
    discrepancies: number;
    booked: number;
    conflicts: number;
    differenceMinor: number[];
    healed: number;
  };
}

const PROGRESS_EVERY = 100;
const MB = 1024 * 1024;

export interface PageMark {
  page: number;
  atMs: number;
  rssMb: number;
  heapMb: number;
}

export interface SizeOptions {
  lines: number;
  entriesPerLine: number;
  users: number;
  /** No earlier day in the mirror tables: the first run on a new database. */
  cold: boolean;
  standin: StandinMode;
  profilePath?: string | undefined;
  log: (msg: string) => void;
}

export async function benchSize(cleanup: Cleanup, o: SizeOptions): Promise<SizeResult> {
  const window = previousUtcDay(new Date());
  const day: Day = {
    lines: o.lines,
    entries: o.lines * o.entriesPerLine,
    users: o.users,
    ...window,
    currency: "usd",
  };
  o.log(`${o.lines} lines: seeding the stand-in (${o.standin})`);
  const env = await createReconcileEnv(cleanup, day, o.standin);
  const netMinor = env.standin.netMinor;
  o.log(`database ${env.dbName}, stand-in ${env.standin.url}; seeding the ledger`);
  const t1 = performance.now();
  await withClient(env.databaseUrl, async (c) => {
    await seedLedger(c, day);
    if (!o.cold) await seedHistory(c, day);
    await analyze(c);
  });
  const t2 = performance.now();
  const position = await withClient(env.databaseUrl, ledgerStripePosition);
  if (position !== netMinor)
    throw new Error(`seed: ledger holds ${position} at Stripe, the stand-in ${netMinor}`);
  o.log(
    `seeded: stand-in ${(env.standin.seedMs / 1000).toFixed(1)} s, ledger ${((t2 - t1) / 1000).toFixed(1)} s`,
  );

  const probes: Probes = { pg: new PgCpu(env.dbName), standinCpuMs: env.standin.cpuMs };
  o.log("floor: paging the stand-in once, reading the ledger once");
  const floor = await measure(probes, () => readFloor(env, day));
  o.log(`floor ${(floor.cost.wallMs / 1000).toFixed(1)} s; reconciling`);
  const rec = await reconcile(env, day, probes, o);
  o.log(`reconciled in ${(rec.cost.wallMs / 1000).toFixed(1)} s: ${rec.report.run.status}`);
  return {
    lines: day.lines,
    cold: o.cold,
    entries: day.entries,
    users: day.users,
    standin: o.standin,
    seedMs: { standin: env.standin.seedMs, ledger: t2 - t1 },
    floor: { ...floor.cost, ...floor.value },
    reconcile: {
      ...rec.cost,
      streamMs: rec.streamMs,
      progress: rec.progress,
      pages: rec.pages,
      sql: rec.sql,
      ...(rec.profile && { profile: rec.profile }),
    },
    result: await resultOf(env, rec.report, rec.booked),
  };
}

/** Both sides read once: every page as the stream asks for it, and every ledger row. */
async function readFloor(env: ReconcileEnv, day: Day) {
  const t0 = performance.now();
  let pages = 0;
  let startingAfter: string | undefined;
  for (;;) {
    const after = startingAfter;
    // Paced by the same budget and retried on the same limits as the stream's pages.
    const page = await patiently(() =>
      env.deps.stripe.balanceTransactions.list({
        limit: 100,
        created: { gte: Math.floor(day.from.getTime() / 1000) },
        expand: ["data.source"],
        ...(after !== undefined && { starting_after: after }),
      }),
    );
    pages += 1;
    if (!page.has_more || page.data.length === 0) break;
    startingAfter = page.data[page.data.length - 1]!.id;
  }
  const t1 = performance.now();
  await env.deps.db.raw("SELECT count(*), sum(amount_minor) FROM wallet_ledger");
  return { pagingMs: t1 - t0, ledgerReadMs: performance.now() - t1, pages };
}

async function reconcile(env: ReconcileEnv, day: Day, probes: Probes, o: SizeOptions) {
  const run = await createRun(env.deps.db, {
    id: newId("rec"),
    trigger: "cli",
    requestedBy: "bench",
    from: day.from,
    to: day.to,
  });
  const sql = sqlTimer(env.deps.db);
  let last: StreamProgress = { page: 0, lines: 0, booked: 0 };
  let start = 0;
  let lastPageAt = 0;
  const progress: PageMark[] = [];
  const once = () => {
    start = performance.now();
    return runReconciliation(env.deps, run.id, {
      healWaitMs: 0,
      onPage: (p) => {
        last = { ...p };
        lastPageAt = performance.now();
        if (p.page % PROGRESS_EVERY !== 0) return;
        const m = process.memoryUsage();
        progress.push({ page: p.page, atMs: lastPageAt - start, rssMb: m.rss / MB, heapMb: m.heapUsed / MB });
        o.log(`page ${p.page}: ${p.lines} lines`);
      },
    });
  };
  try {
    const path = o.profilePath;
    const { value, cost } = await measure(probes, async () =>
      path === undefined ? { value: await once(), profile: undefined } : profiled(path, once),
    );
    return {
      report: value.value,
      profile: value.profile,
      cost,
      streamMs: lastPageAt - start,
      progress,
      pages: last.page,
      booked: last.booked,
      sql: sql.totals(),
    };
  } finally {
    sql.stop();
  }
}

async function resultOf(env: ReconcileEnv, report: RunReport, booked: number): Promise<SizeResult["result"]> {
  const { run, snapshots } = report;
  const { rows } = await env.deps.db.raw<{ rows: Array<{ n: number }> }>(
    "SELECT count(*)::int AS n FROM reconciliation_discrepancies WHERE run_id = ?",
    [run.id],
  );
  const conflicts = (await env.deps.metrics.postingConflicts.get()).values[0]?.value ?? 0;
  return {
    status: run.status,
    stripeMatched: run.stripe_matched,
    stripeUnmatched: run.stripe_unmatched,
    ledgerMatched: run.ledger_matched,
    ledgerUnmatched: run.ledger_unmatched,
    discrepancies: rows[0]?.n ?? Number.NaN,
    booked,
    conflicts,
    differenceMinor: snapshots.map((s) => s.difference_minor),
    healed: run.healed_events.length,
  };
}
