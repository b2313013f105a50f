import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Db } from "../../src/db/knex.js";
import { withPg } from "./audit.js";
import { createPostgres, createRedis, freePort, type OwnRedis, type Postgres } from "./cluster.js";
import type { FeeRule } from "./model.js";
import { cofferProcesses, type Processes } from "./processes.js";
import { stream } from "./random.js";
import { startStandinProcess, type StandinHandle } from "./standin-handle.js";
import { startStripeFaults, type StripeFaults } from "./stripe-faults.js";

/**
 * The whole system for one soak, as production runs it: Postgres and Redis of its own, the
 * stand-in (in this process: it is Stripe, not Coffer) behind the fault proxy, one web process
 * and N worker processes, all configured by environment alone.
 */
export const WEBHOOK_SECRET = "whsec_soak_platform_endpoint";
export const CONNECT_WEBHOOK_SECRET = "whsec_soak_connect_endpoint";
export const JWT_SECRET = "soak-jwt-secret-not-for-production";
export const FEES: Record<string, FeeRule> = { default: { fixed_minor: 25, bps: 100, min_minor: 500 } };

export interface SoakSystem {
  dir: string;
  postgres: Postgres;
  redis: OwnRedis;
  standin: StandinHandle;
  stripeFaults: StripeFaults;
  processes: Processes;
  webUrl: string;
  /** Migrations' role (the owner, a superuser of the soak's cluster): the audit reads as it. */
  ownerUrl: string;
  /** The application's role, as web and workers connect. */
  appUrl: string;
  /** The application's role, for the one story that writes what no route does. */
  db: Db;
  env: Record<string, string>;
}

const ROOT = new URL("../../", import.meta.url).pathname;

export async function startSoakSystem(o: {
  seed: number;
  workers: number;
  baseDir: string | undefined;
}): Promise<SoakSystem> {
  const dir = mkdtempSync(join(o.baseDir ?? tmpdir(), `coffer-soak-${o.seed}-`));
  chmodSync(dir, 0o755); // Postgres's own user must reach its data directory inside
  const [postgres, redis, standin] = await Promise.all([
    createPostgres(dir),
    createRedis(dir),
    startStandinProcess(dir, {
      webhookSecret: WEBHOOK_SECRET,
      connectWebhookSecret: CONNECT_WEBHOOK_SECRET,
      // Card funds become available a second after the charge, so withdrawals in the soak need
      // not wait Stripe's two days; Coffer still learns it from the balance-transaction stream.
      availableAfterS: 1,
    }),
  ]);
  const ownerUrl = postgres.url("coffer");
  // The least-privileged role of migrations/…_app_role.ts when it exists; the owner otherwise.
  let appUrl = postgres.url("coffer").replace("//soak@", "//coffer_soak_app@");
  migrate(ownerUrl, appUrl, dir);
  if (!(await roleExists(ownerUrl, "coffer_soak_app"))) appUrl = ownerUrl;

  const stripeFaults = await startStripeFaults(
    { host: standin.host, port: standin.port },
    { error500: 0.05, error429: 0.02, dropAfter: 0.02 },
    stream(o.seed, "stripe-faults"),
  );
  const port = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: "development",
    DATABASE_URL: appUrl,
    DATABASE_OWNER_URL: ownerUrl,
    REDIS_URL: redis.url,
    PORT: String(port),
    LOG_LEVEL: "info",
    STRIPE_API_BASE: stripeFaults.url,
    STRIPE_WEBHOOK_SECRET: `${WEBHOOK_SECRET},${CONNECT_WEBHOOK_SECRET}`,
    AUTH_JWT_SECRET: JWT_SECRET,
    QUEUE_PREFIX: "soak",
    // The soak is one caller doing the work of many users; issue 11's per-user limit would
    // measure itself, not Coffer.
    RATE_LIMIT_PER_MINUTE: "0",
    WITHDRAWAL_FEES: JSON.stringify(FEES),
    // An operator's faster settings than the defaults, so a run converges in minutes.
    SWEEP_INTERVAL_MS: "1000",
    SWEEP_AFTER_MS: "5000",
    JOB_LOCK_MS: "10000",
    BALANCE_STREAM_INTERVAL_MS: "1000",
    WORKER_METRICS_PORT: "0",
  };
  const processes = cofferProcesses(env, o.workers, dir);
  await Promise.all(processes.all().map((p) => p.start()));
  return {
    dir,
    postgres,
    redis,
    standin,
    stripeFaults,
    processes,
    webUrl: `http://127.0.0.1:${port}`,
    ownerUrl,
    appUrl,
    db: createDb(appUrl, { poolMax: 4 }),
    env,
  };
}

/** `npm run db:migrate`, as a release step runs it: the owner migrates, the app user is made. */
function migrate(ownerUrl: string, appUrl: string, dir: string): void {
  const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/migrate.ts"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_OWNER_URL: ownerUrl, DATABASE_URL: appUrl },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`migrations failed (${dir}): ${r.stderr || r.stdout}`);
}

async function roleExists(ownerUrl: string, role: string): Promise<boolean> {
  return withPg(
    ownerUrl,
    async (c) => ((await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount ?? 0) > 0,
  );
}

/** Stops everything; the run directory (database, logs) stays unless `removeDir`. */
export async function stopSoakSystem(s: SoakSystem, removeDir: boolean): Promise<void> {
  await Promise.all(s.processes.all().map((p) => p.stop("SIGTERM")));
  await Promise.all(s.processes.all().map((p) => p.close()));
  await s.db.destroy().catch(() => undefined);
  await s.stripeFaults.close();
  await s.standin.close();
  await s.redis.kill();
  await s.postgres.stop();
  if (removeDir) spawnSync("rm", ["-rf", s.dir]);
}
