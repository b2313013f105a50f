import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { loadConfig, type Config } from "../../src/config.js";
import { createApp } from "../../src/http/app.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { closeQueues, createQueues, queueSettings, type Queues } from "../../src/queue/queues.js";
import { producerConnection } from "../../src/queue/redis.js";
import { startStandin, type Standin, type StandinOptions } from "../../src/standin/index.js";
import { budgetedStripe } from "../../src/runtime.js";
import { createTestDb, type TestDb } from "./db.js";
import { REDIS_URL } from "./pg-urls.js";
import { JWT_SECRET, WEBHOOK_SECRET } from "./tokens.js";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The Connect endpoint's signing secret. Stripe delivers events of connected accounts through a
 * separate Connect endpoint with its own secret, so the system is configured with both secrets
 * (STRIPE_WEBHOOK_SECRET is a list) and the stand-in signs each event with its endpoint's.
 */
export const CONNECT_WEBHOOK_SECRET = "whsec_test_coffer_connect_secret";

export interface WorkerProc {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/**
 * The whole system for one test file, for real: its own Postgres database and
 * queue prefix, the Stripe stand-in, the Koa app listening on a random port,
 * and worker *processes* (so a test can SIGKILL one mid-job).
 */
export interface System {
  url: string;
  env: Record<string, string>;
  config: Config;
  tdb: TestDb;
  standin: Standin;
  queues: Queues;
  /** The test process's own Redis connection (queues, and the Stripe budget its clients share). */
  redis: ReturnType<typeof producerConnection>;
  workers: WorkerProc[];
  startWorker(extraEnv?: Record<string, string>): Promise<WorkerProc>;
  stopWorker(w: WorkerProc, signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export async function startSystem(
  o: { workers?: number; env?: Record<string, string>; standin?: Pick<StandinOptions, "rateLimits"> } = {},
): Promise<System> {
  const tdb = await createTestDb();
  const standin = await startStandin({
    ...o.standin,
    webhookSecret: WEBHOOK_SECRET,
    connectWebhookSecret: CONNECT_WEBHOOK_SECRET,
  });
  const env: Record<string, string> = {
    NODE_ENV: "test",
    DATABASE_URL: tdb.url,
    REDIS_URL,
    STRIPE_WEBHOOK_SECRET: `${WEBHOOK_SECRET},${CONNECT_WEBHOOK_SECRET}`,
    AUTH_JWT_SECRET: JWT_SECRET,
    STRIPE_API_BASE: standin.url,
    QUEUE_PREFIX: `test-${randomUUID()}`,
    LOG_LEVEL: "info",
    // Limits off: tests send many requests; test/rate-limit-*.test.ts turn them on.
    RATE_LIMIT_PER_MINUTE: "0",
    WEBHOOK_REFUSALS_PER_MINUTE: "0",
    SWEEP_INTERVAL_MS: "300",
    SWEEP_AFTER_MS: "1500",
    JOB_BACKOFF_MS: "100",
    JOB_LOCK_MS: "3000",
    WORKER_METRICS_PORT: "0",
    // Fees and conversions come from the stream; tests see them within a second.
    BALANCE_STREAM_INTERVAL_MS: "500",
    ...o.env,
  };
  const config = loadConfig(env);
  const redis = producerConnection(config);
  redis.on("error", () => undefined);
  const queues = createQueues(redis, queueSettings(config));
  const logger = createLogger("silent");
  // Budgeted like the workers' client: the web's Stripe calls share the one Redis budget.
  const stripe = budgetedStripe(config, redis, standin.url);
  const app = createApp({
    config,
    db: tdb.db,
    queues,
    redis,
    redisPing: () => redis.ping(),
    stripe,
    logger,
    metrics: createMetrics(),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standin.setWebhook(`${url}/webhooks/stripe`, WEBHOOK_SECRET, CONNECT_WEBHOOK_SECRET);

  const workers: WorkerProc[] = [];
  const startWorker = (extra: Record<string, string> = {}) =>
    spawnWorker({ ...env, ...extra }).then((w) => (workers.push(w), w));
  const stopWorker = async (w: WorkerProc, signal: NodeJS.Signals = "SIGTERM") => {
    if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill(signal);
    await w.exited;
  };
  for (let i = 0; i < (o.workers ?? 1); i++) await startWorker();

  return {
    url,
    env,
    config,
    tdb,
    standin,
    queues,
    redis,
    workers,
    startWorker,
    stopWorker,
    stop: async () => {
      await Promise.all(workers.map((w) => stopWorker(w)));
      await new Promise((r) => server.close(r));
      await standin.close();
      for (const q of Object.values(queues)) await q.obliterate({ force: true }).catch(() => undefined);
      await closeQueues(queues);
      redis.disconnect();
      await tdb.drop();
    },
  };
}

/** Spawns `jobs/worker.ts` as its own process and resolves once it says it has started. */
export function spawnWorker(env: Record<string, string>): Promise<WorkerProc> {
  const proc = spawn(process.execPath, ["--import", "tsx", "jobs/worker.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: WorkerProc["lines"] = [];
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  let buf = "";
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    proc.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (parsed.msg === "workers started") resolve({ proc, lines, exited });
        } catch {
          /* not JSON: ignore */
        }
      }
    });
    void exited.then((code) => reject(new Error(`worker exited early (${code}): ${stderr.slice(0, 2000)}`)));
  });
}

/** Polls until `check` returns a truthy value; a bounded wait for eventual consistency, not a timing assertion. */
export async function eventually<T>(
  check: () => Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${opts.what ?? "condition"}; last: ${String(last)}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
