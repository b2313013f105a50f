import type Router from "@koa/router";
import { latestFinishedRun, runSnapshots } from "../../db/stores/reconciliation.js";
import { settlingTotals } from "../../db/stores/settling.js";
import type { AppDeps } from "../deps.js";
import { OPENAPI } from "../openapi.js";

/** Liveness, readiness, metrics and the API description: unauthenticated, no money. */
export function opsRoutes(router: Router, deps: AppDeps): void {
  router.get("/healthz", (ctx) => {
    ctx.body = { ok: true };
  });

  router.get("/readyz", async (ctx) => {
    const [db, redis] = await Promise.allSettled([
      deps.db.raw("select 1"),
      withTimeout(deps.redisPing(), 1_000),
    ]);
    const checks = { postgres: db.status === "fulfilled", redis: redis.status === "fulfilled" };
    // Webhooks still work without Redis (the sweeper catches up), but a process that
    // cannot reach either dependency should not receive traffic.
    ctx.status = checks.postgres && checks.redis ? 200 : 503;
    ctx.body = { ok: ctx.status === 200, checks };
  });

  router.get("/metrics", async (ctx) => {
    await sampleQueueDepth(deps).catch(() => undefined);
    await sampleReconciliation(deps).catch(() => undefined);
    await sampleSettling(deps).catch(() => undefined);
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  router.get("/openapi.json", (ctx) => {
    ctx.body = OPENAPI;
  });
}

async function sampleQueueDepth(deps: AppDeps): Promise<void> {
  for (const [name, q] of Object.entries(deps.queues)) {
    const counts = await withTimeout(q.getJobCounts("waiting", "active", "delayed", "failed"), 500);
    for (const [state, n] of Object.entries(counts)) deps.metrics.queueDepth.set({ queue: name, state }, n);
  }
}

/**
 * The workers set these when a run ends, but Prometheus may scrape only the web; so
 * the web reads the last finished run's figures from Postgres on each scrape.
 */
async function sampleReconciliation(deps: AppDeps): Promise<void> {
  const run = await latestFinishedRun(deps.db);
  if (!run) return;
  deps.metrics.reconciliationUnmatched.set({ side: "stripe" }, run.stripe_unmatched ?? 0);
  deps.metrics.reconciliationUnmatched.set({ side: "ledger" }, run.ledger_unmatched ?? 0);
  for (const s of await runSnapshots(deps.db, run.id))
    deps.metrics.reconciliationDifference.set({ currency: s.currency }, s.difference_minor);
}

/**
 * Settling funds change with the clock alone, so they are read again, but at most once per
 * SETTLING_SAMPLE_MS and by one scrape at a time: the query reads every card credit, and
 * `/metrics` is unauthenticated, so concurrent scrapes must not be able to hold the pool.
 */
const SETTLING_SAMPLE_MS = 30_000;
const settlingSamples = new WeakMap<AppDeps["metrics"], { at: number; running: Promise<void> | null }>();
async function sampleSettling(deps: AppDeps): Promise<void> {
  const last = settlingSamples.get(deps.metrics) ?? { at: 0, running: null };
  if (last.running) return last.running;
  if (last.at > 0 && Date.now() - last.at < SETTLING_SAMPLE_MS) return;
  const running = (async () => {
    const totals = await settlingTotals(deps.db, Math.floor(Date.now() / 1000));
    deps.metrics.settlingFunds.reset(); // a currency with nothing settling any more drops to absent
    for (const s of totals) deps.metrics.settlingFunds.set({ currency: s.currency }, s.settling_minor);
  })().finally(() => settlingSamples.set(deps.metrics, { at: Date.now(), running: null }));
  settlingSamples.set(deps.metrics, { at: last.at, running });
  return running;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
