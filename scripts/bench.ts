import { writeFileSync } from "node:fs";
import os from "node:os";
import { loadConfig } from "../src/config.js";
import { createDb } from "../src/db/knex.js";
import { httpOk, printed, spawnChild, waitFor, type Child } from "./bench/children.js";
import { Cleanup, createBenchEnv, freePort, inheritedEnv, type BenchEnv } from "./bench/env.js";
import { runIngestion } from "./bench/ingestion.js";
import { benchQueues } from "./bench/queues.js";
import * as report from "./bench/report.js";
import type { ThroughputResult } from "./bench/throughput.js";
import { runWorkerPhase } from "./bench/worker-phase.js";

/**
 * `npm run bench`: how much Coffer's web process costs on the webhook path
 * compared with a bare Koa endpoint doing the same persistence, and how fast
 * the worker turns webhooks into balances. A report, not a test: it exits 0
 * whatever the numbers are, and 1 only if the bench itself could not run.
 * Progress goes to stderr; the tables go to stdout; the JSON goes to a file.
 *
 * Knobs (env): BENCH_SECONDS (8) and BENCH_WARMUP_SECONDS (2) per cell, BENCH_ROUNDS (2),
 * BENCH_PRIME_SECONDS (3, one untimed run per server first),
 * BENCH_CONNECTIONS ("10,50"), BENCH_EVENTS (1000), BENCH_WALLETS ("1,100"),
 * BENCH_POST_CONNECTIONS (50), BENCH_WORKER_CONCURRENCY (Coffer's default),
 * BENCH_WAIT_TIMEOUT_S (120), BENCH_JSON (/tmp/coffer-bench-<time>.json).
 */
const num = (name: string, def: number) => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const list = (name: string, def: string) => {
  const v = (process.env[name] ?? def).split(",").map(Number);
  if (v.length === 0 || !v.every((n) => Number.isInteger(n) && n > 0))
    throw new Error(`${name} must be a comma-separated list of positive integers`);
  return v;
};

const settings = {
  measureS: num("BENCH_SECONDS", 8),
  warmupS: num("BENCH_WARMUP_SECONDS", 2),
  primeS: num("BENCH_PRIME_SECONDS", 3),
  rounds: num("BENCH_ROUNDS", 2),
  connections: list("BENCH_CONNECTIONS", "10,50"),
  events: num("BENCH_EVENTS", 1000),
  wallets: list("BENCH_WALLETS", "1,100"),
  postConnections: num("BENCH_POST_CONNECTIONS", 50),
  waitTimeoutS: num("BENCH_WAIT_TIMEOUT_S", 120),
  workerConcurrency: process.env.BENCH_WORKER_CONCURRENCY ? num("BENCH_WORKER_CONCURRENCY", 8) : undefined,
  jsonPath:
    process.env.BENCH_JSON ?? `/tmp/coffer-bench-${new Date().toISOString().replaceAll(":", "-")}.json`,
};

const loadAverage = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const out = (text: string) => process.stdout.write(`${text}\n`);
const cleanup = new Cleanup();

function startChild(name: string, entry: string, env: Record<string, string>): Child {
  const child = spawnChild(name, entry, env);
  cleanup.add(`stop ${name}`, () => child.stop());
  return child;
}

async function startServers(env: BenchEnv) {
  const [webPort, basePort] = [await freePort(), await freePort()];
  const webUrl = `http://127.0.0.1:${webPort}`;
  const baseUrl = `http://127.0.0.1:${basePort}`;
  const web = startChild("web", "src/web.ts", { ...env.cofferEnv, PORT: String(webPort) });
  const baseline = startChild("baseline", "scripts/bench/baseline-server.ts", {
    ...inheritedEnv(),
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    PORT: String(basePort),
    STRIPE_WEBHOOK_SECRET: env.webhookSecret,
    QUEUE_PREFIX: env.baselinePrefix,
  });
  await waitFor(web, "Coffer web /readyz", () => httpOk(`${webUrl}/readyz`));
  await waitFor(baseline, "baseline server", printed(baseline, /baseline ready/));
  return { web, webUrl, baseline, baseUrl };
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const loadAtStart = loadAverage();
  const env = await createBenchEnv(cleanup, { workerConcurrency: settings.workerConcurrency });
  const workerConcurrency = loadConfig(env.cofferEnv).WORKER_CONCURRENCY;
  log(`database ${env.dbName}, queue prefixes ${env.cofferPrefix} / ${env.baselinePrefix}`);
  const queues = benchQueues(env.redisUrl, env.cofferPrefix, env.baselinePrefix);
  cleanup.add("obliterate bench queues", () => queues.close());
  const db = createDb(env.databaseUrl, { poolMax: 4 });
  cleanup.add("close bench db pool", () => db.destroy());

  // Ingested rows stay `enqueued` and their jobs stay queued (no worker runs yet). Wiping both
  // gives each cell the same starting state, and keeps a worker's sweeper from replaying them
  // later. The CHECKPOINT (superuser only, hence optional) puts every cell at the same point of
  // the WAL cycle, so a checkpoint's burst of writes does not land inside one server's window.
  const reset = async () => {
    await queues.obliterateAll();
    await db.raw("TRUNCATE stripe_webhook_events");
    await db.raw("CHECKPOINT").catch(() => undefined);
  };

  const servers = await startServers(env);
  log(
    `phase 1: ingestion, ${settings.rounds} round(s) of ${settings.warmupS}+${settings.measureS} s per cell`,
  );
  const ingestion = await runIngestion(
    {
      baseline: { url: servers.baseUrl, cpuMs: () => servers.baseline.cpuMs() },
      coffer: { url: servers.webUrl, cpuMs: () => servers.web.cpuMs() },
    },
    env.webhookSecret,
    settings,
    reset,
    log,
  );
  await servers.baseline.stop();
  await reset();

  const throughput = await runWorkerPhase({
    env,
    db,
    webUrl: servers.webUrl,
    queues,
    startWorker: () => startChild("worker", "jobs/worker.ts", env.cofferEnv),
    settings,
    workerConcurrency,
    log,
  });

  printReport({ startedAt, loadAtStart, workerConcurrency, ingestion, throughput });
}

function printReport(r: {
  startedAt: string;
  loadAtStart: string;
  workerConcurrency: number;
  ingestion: Awaited<ReturnType<typeof runIngestion>>;
  throughput: ThroughputResult[];
}): void {
  const cpus = `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}`;
  out("");
  out(`Coffer bench, ${r.startedAt}, node ${process.version}, ${cpus}`);
  // Load average is the cheapest hint that something else shared the machine during the run.
  out(`load average at start ${r.loadAtStart}, at end ${loadAverage()}`);
  out("");
  out(
    `Webhook ingestion, POST /webhooks/stripe, every run (${settings.warmupS} s warm-up + ${settings.measureS} s)`,
  );
  out(report.ingestionRunsTable(r.ingestion.runs));
  out("");
  out("Webhook ingestion, best round per cell");
  out(report.ingestionSummaryTable(r.ingestion.cells));
  out("");
  out(
    `Worker throughput, webhook to balance (1 web, 1 worker, WORKER_CONCURRENCY=${r.workerConcurrency}, ` +
      `${settings.postConnections} posting connections)`,
  );
  out(report.throughputTable(r.throughput));
  out("");
  out("Ledger after the worker phase");
  out(report.correctnessTable(r.throughput));

  writeFileSync(
    settings.jsonPath,
    `${JSON.stringify({ ...r, node: process.version, cpus, settings }, null, 2)}\n`,
  );
  out("");
  out(`JSON: ${settings.jsonPath}`);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup.run(log).finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (err) {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  log("cleaning up");
  await cleanup.run(log);
  // Anything a failed step left open (a socket retrying forever) must not keep the bench alive.
  process.exit();
}
