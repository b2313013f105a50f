import { once } from "node:events";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { loadConfig } from "../../src/config.js";
import { createDb } from "../../src/db/knex.js";
import type { ReconcileDeps } from "../../src/flows/reconcile-run.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { closeQueues, createQueues } from "../../src/queue/queues.js";
import { producerConnection } from "../../src/queue/redis.js";
import { Runtime } from "../../src/standin/runtime.js";
import { closeServer, createStandinServer, listen } from "../../src/standin/server.js";
import { budgetedStripe } from "../../src/runtime.js";
import type { RateLimitMode } from "../../src/standin/rate-limits.js";
import { printed, spawnChild, waitFor } from "./children.js";
import { createBenchDatabase, inheritedEnv, type Cleanup } from "./env.js";
import { STANDIN_CONFIG, dayToJson, seedStandin, type Day } from "./reconcile-seed.js";

/**
 * What one size of the reconciliation bench runs against: a migrated throwaway
 * database, a stand-in holding the day, and the reconciliation's own
 * dependencies, wired as scripts/reconcile-stripe-daily.ts wires them. Every
 * piece registers its teardown with `cleanup` as soon as it exists.
 *
 * The stand-in is built here from its Runtime, its store filled directly: in a
 * child process by default (reconcile-standin.ts), so this process's memory is
 * the reconciliation's alone, or in this process (`inproc`), where its store
 * counts in the RSS and its serving in the CPU time.
 *
 * It enforces Stripe's live-mode limits, and the run (and the floor) call it
 * through the shared budget as a worker does. Stripe allows 25 requests per
 * second on one endpoint, so a day of 100,000 lines (1,000 pages) cannot be
 * paged in under 40 s whatever Coffer does: the floor carries that cost too.
 */
export const BENCH_STANDIN_LIMITS: RateLimitMode = "live";
// Under the list endpoint's 25/s, so the budget paces the pages instead of Stripe's 429s.
const BENCH_STRIPE_MAX_RPS = "24";
export const STANDIN_MODES = ["child", "inproc"] as const;
export type StandinMode = (typeof STANDIN_MODES)[number];

export interface ReconcileEnv {
  dbName: string;
  databaseUrl: string;
  standin: { url: string; netMinor: number; seedMs: number; cpuMs(): number };
  deps: ReconcileDeps;
}

export async function createReconcileEnv(
  cleanup: Cleanup,
  day: Day,
  mode: StandinMode,
): Promise<ReconcileEnv> {
  const { tag, redisUrl, dbName, databaseUrl } = await createBenchDatabase(cleanup, "coffer_bench_rec");
  const standin = mode === "child" ? await childStandin(cleanup, day) : await inprocStandin(cleanup, day);
  const standinUrl = standin.url;

  const prefix = `bench-rec-${tag}`;
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    STRIPE_API_BASE: standinUrl,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: "silent",
    STRIPE_MAX_RPS: BENCH_STRIPE_MAX_RPS,
  });
  const db = createDb(databaseUrl);
  cleanup.add("close db pool", () => db.destroy());
  const redis = producerConnection(redisUrl);
  redis.on("error", () => undefined);
  cleanup.add("disconnect redis", async () => redis.disconnect());
  // The producer connection refuses commands until it is connected (no offline queue).
  if (redis.status !== "ready") await once(redis, "ready");
  const queues = createQueues(redis, {
    prefix,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
  });
  cleanup.add("obliterate queues", async () => {
    for (const q of Object.values(queues)) await q.obliterate({ force: true });
    await closeQueues(queues);
  });
  const deps: ReconcileDeps = {
    config,
    db,
    stripe: budgetedStripe(config, redis, standinUrl),
    metrics: createMetrics(),
    log: createLogger("silent", "bench-reconcile"),
    queues,
  };
  return { dbName, databaseUrl, standin, deps };
}

async function inprocStandin(cleanup: Cleanup, day: Day): Promise<ReconcileEnv["standin"]> {
  const rt = new Runtime(
    STANDIN_CONFIG,
    { info: () => {}, warn: () => {} },
    { rateLimits: BENCH_STANDIN_LIMITS },
  );
  const t0 = performance.now();
  const { netMinor } = await seedStandin(rt, day);
  const seedMs = performance.now() - t0;
  const server = createStandinServer(rt);
  const bound = await listen(server, 0);
  cleanup.add("stop stand-in", async () => {
    rt.webhooks.close();
    await closeServer(server);
  });
  rt.store.publicUrl = `http://${bound.host}:${bound.port}`;
  // Its CPU is this process's: counted in the phase's node CPU.
  return { url: rt.store.publicUrl, netMinor, seedMs, cpuMs: () => Number.NaN };
}

async function childStandin(cleanup: Cleanup, day: Day): Promise<ReconcileEnv["standin"]> {
  const t0 = performance.now();
  const child = spawnChild("stand-in", "scripts/bench/reconcile-standin.ts", {
    ...inheritedEnv(),
    BENCH_RECONCILE_DAY: dayToJson(day),
  });
  cleanup.add("stop stand-in", () => child.stop());
  await waitFor(child, "the stand-in's day", printed(child, /^stand-in ready /m), 300_000);
  const ready = /^stand-in ready (.*)$/m.exec(child.tail())?.[1] ?? "{}";
  const { url, netMinor } = JSON.parse(ready) as { url: string; netMinor: number };
  return { url, netMinor, seedMs: performance.now() - t0, cpuMs: () => child.cpuMs() };
}

/** A plain connection for the seed's few large statements. */
export async function withClient<T>(databaseUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
