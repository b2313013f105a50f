import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrateLatest } from "../../src/db/migrate.js";
import { startStandin, type Standin } from "../../src/standin/index.js";

/**
 * Everything the bench creates for itself: a throwaway database, two unique
 * queue prefixes (Coffer's and the baseline's), the Stripe stand-in, and the
 * environment the child processes run with. Each piece registers its own
 * teardown with `Cleanup` the moment it exists, so a failure anywhere later
 * still drops the database and frees Redis.
 */
export interface BenchEnv {
  adminUrl: string;
  dbName: string;
  databaseUrl: string;
  redisUrl: string;
  webhookSecret: string;
  jwtSecret: string;
  cofferPrefix: string;
  baselinePrefix: string;
  standin: Standin;
  /** The environment for Coffer's own processes (web and worker). */
  cofferEnv: Record<string, string>;
}

/** One teardown step may not hang the rest (an unreachable Redis would wait forever otherwise). */
const STEP_TIMEOUT_MS = 15_000;

/** Teardown steps, run newest first; one failing or hanging step never skips the others. */
export class Cleanup {
  private readonly steps: Array<{ name: string; fn: () => Promise<void> }> = [];
  private running: Promise<void> | undefined;

  add(name: string, fn: () => Promise<void>): void {
    this.steps.push({ name, fn });
  }

  /** Idempotent: a Ctrl-C during the normal teardown waits for it rather than starting over or cutting it short. */
  run(log: (msg: string) => void): Promise<void> {
    this.running ??= this.runSteps(log);
    return this.running;
  }

  private async runSteps(log: (msg: string) => void): Promise<void> {
    for (const step of [...this.steps].reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
      });
      try {
        await Promise.race([step.fn(), timeout]);
      } catch (err) {
        log(`cleanup step "${step.name}" failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

export { freePort } from "../free-port.js";

// Configuration a developer may have exported for `npm start`; inherited, it would change what
// the children run (a real STRIPE_SECRET_KEY, NODE_ENV=production, another QUEUE_PREFIX…).
const COFFER_KEYS =
  /^(NODE_ENV|DATABASE_URL|REDIS_URL|PORT|LOG_LEVEL|STRIPE_.*|AUTH_JWT_SECRET|WITHDRAWAL_FEES|WALLET_CURRENCIES|RATE_LIMIT_PER_MINUTE|RECONCILIATION_CRON|QUEUE_PREFIX|WORKER_.*|JOB_.*|SWEEP_.*)$/;

export function inheritedEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !COFFER_KEYS.test(k)) out[k] = v;
  return out;
}

export async function createBenchEnv(
  cleanup: Cleanup,
  opts: { workerConcurrency?: number } = {},
): Promise<BenchEnv> {
  const { tag, adminUrl, redisUrl, dbName, databaseUrl } = await createBenchDatabase(cleanup, "coffer_bench");

  // No webhook URL: the bench delivers every event itself, so it decides when timing starts.
  // Stripe's live-mode limits (100 requests/s), with Coffer's budget at SPEC's live-mode 80: the
  // bench measures a platform in production, not the 25/s sandbox.
  const standin = await startStandin({ rateLimits: "live" });
  cleanup.add("stop stand-in", () => standin.close());

  const webhookSecret = `whsec_bench_${tag}`;
  const jwtSecret = `bench-jwt-secret-${tag}`;
  const cofferPrefix = `bench-coffer-${tag}`;
  const cofferEnv: Record<string, string> = {
    ...inheritedEnv(),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    AUTH_JWT_SECRET: jwtSecret,
    STRIPE_API_BASE: standin.url,
    QUEUE_PREFIX: cofferPrefix,
    LOG_LEVEL: "warn",
    // Seeding creates thousands of top-ups through the API; the per-user limit would refuse them.
    RATE_LIMIT_PER_MINUTE: "0",
    STRIPE_MAX_RPS: "80",
  };
  if (opts.workerConcurrency !== undefined) cofferEnv.WORKER_CONCURRENCY = String(opts.workerConcurrency);
  return {
    adminUrl,
    dbName,
    databaseUrl,
    redisUrl,
    webhookSecret,
    jwtSecret,
    cofferPrefix,
    baselinePrefix: `bench-baseline-${tag}`,
    standin,
    cofferEnv,
  };
}

export interface BenchDatabase {
  /** Random, unique to this run: also names queue prefixes and secrets. */
  tag: string;
  adminUrl: string;
  redisUrl: string;
  dbName: string;
  databaseUrl: string;
}

/** A migrated throwaway database named `<prefix>_<tag>`, dropped by `cleanup` however the bench ends. */
export async function createBenchDatabase(cleanup: Cleanup, prefix: string): Promise<BenchDatabase> {
  const tag = randomBytes(5).toString("hex");
  const adminUrl = process.env.BENCH_PG_ADMIN_URL ?? "postgres://root@127.0.0.1:5432/postgres";
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const dbName = `${prefix}_${tag}`;
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  // Registered before creating, so a migration that fails half-way still gets dropped.
  cleanup.add("drop database", () => dropDatabase(adminUrl, dbName));
  await migrateLatest(databaseUrl);
  return { tag, adminUrl, redisUrl, dbName, databaseUrl };
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // FORCE: a child killed mid-query may leave a backend that has not noticed yet.
    await client.query(`DROP DATABASE IF EXISTS "${name.replaceAll('"', '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
