import type Router from "@koa/router";
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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
