import type Router from "@koa/router";
import { latestFinishedRun, runSnapshots } from "../../db/stores/reconciliation.js";
import { settlingTotals } from "../../db/stores/settling.js";
import { z } from "zod";
import type { AppDeps } from "../deps.js";
import { openApiDocument } from "../openapi/document.js";
import { operation, route } from "../openapi/operation.js";

const Ready = z.object({
  ok: z.boolean(),
  checks: z.object({ postgres: z.boolean(), redis: z.boolean() }),
});

export const healthz = operation({
  method: "get",
  path: "/healthz",
  operationId: "healthz",
  summary: "Liveness: the process answers",
  security: "none",
  responses: { 200: { description: "Alive", body: z.object({ ok: z.literal(true) }) } },
});

export const readyz = operation({
  method: "get",
  path: "/readyz",
  operationId: "readyz",
  summary: "Readiness: Postgres and Redis both answer",
  security: "none",
  responses: {
    200: { description: "Ready", body: Ready },
    503: { description: "Not ready: which dependency does not answer", body: Ready },
  },
});

export const metrics = operation({
  method: "get",
  path: "/metrics",
  operationId: "metrics",
  summary: "Prometheus metrics of this web process",
  security: "none",
  responses: { 200: { description: "The text exposition format", contentType: "text/plain" } },
});

export const openApi = operation({
  method: "get",
  path: "/openapi.json",
  operationId: "openApi",
  summary: "This document (OpenAPI 3.1), generated from the routes' schemas",
  security: "none",
  responses: { 200: { description: "The document", body: z.looseObject({ openapi: z.string() }) } },
});

/** Liveness, readiness, metrics and the API description: unauthenticated, no money. */
export function opsRoutes(router: Router, deps: AppDeps): void {
  route(router, healthz, (ctx) => {
    ctx.body = { ok: true };
  });

  route(router, readyz, async (ctx) => {
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

  route(router, metrics, async (ctx) => {
    await sampleQueueDepth(deps).catch(() => undefined);
    await sampleReconciliation(deps).catch(() => undefined);
    await sampleSettling(deps).catch(() => undefined);
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  route(router, openApi, (ctx) => {
    ctx.body = openApiDocument();
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
 * Settling funds fall as the workers' stream passes confirm them, so they are read again, but
 * at most once per SETTLING_SAMPLE_MS and by one scrape at a time: `/metrics` is unauthenticated,
 * so concurrent scrapes must not be able to hold the pool (the query reads only the credits that
 * may still be settling, under a statement timeout).
 *
 * A sample that fails keeps the last figures, which then grow old: coffer_settling_sample_age_seconds
 * says how old on every scrape (from the web's first sample, when none has succeeded), each failure
 * is logged, and once the figures are SETTLING_ALERT_AFTER_MS old the line is an alert.
 */
const SETTLING_SAMPLE_MS = 30_000;
const SETTLING_ALERT_AFTER_MS = 5 * 60_000;
interface SettlingSample {
  /** When a sample last ended, either way: the throttle. */
  at: number;
  /** When a sample last succeeded (or, before any has, when the first was tried). */
  okAt: number;
  running: Promise<void> | null;
}
const settlingSamples = new WeakMap<AppDeps["metrics"], SettlingSample>();
async function sampleSettling(deps: AppDeps): Promise<void> {
  const last = settlingSamples.get(deps.metrics) ?? { at: 0, okAt: Date.now(), running: null };
  if (!settlingSamples.has(deps.metrics)) settlingSamples.set(deps.metrics, last);
  const age = () => deps.metrics.settlingSampleAge.set((Date.now() - last.okAt) / 1000);
  if (last.running) return last.running.finally(age);
  if (last.at > 0 && Date.now() - last.at < SETTLING_SAMPLE_MS) return age();
  last.running = (async () => {
    try {
      const totals = await settlingTotals(deps.db);
      deps.metrics.settlingFunds.reset(); // a currency with nothing settling any more drops to absent
      for (const s of totals) deps.metrics.settlingFunds.set({ currency: s.currency }, s.settling_minor);
      last.okAt = Date.now();
    } catch (err) {
      const staleMs = Date.now() - last.okAt;
      const line = { err, sample_age_s: Math.round(staleMs / 1000) };
      if (staleMs >= SETTLING_ALERT_AFTER_MS)
        deps.logger.error(
          { ...line, alert: true },
          "settling funds could not be read; coffer_settling_minor is stale",
        );
      else
        deps.logger.warn(
          line,
          "settling funds could not be read; coffer_settling_minor keeps its last figures",
        );
    } finally {
      last.at = Date.now();
      last.running = null;
      age();
    }
  })();
  return last.running;
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
