import { writeFileSync } from "node:fs";
import os from "node:os";
import { loadConfig } from "../src/config.js";
import { createDb } from "../src/db/knex.js";
import { httpOk, printed, spawnChild, waitFor, type Child } from "./bench/children.js";
import { Cleanup, createBenchEnv, freePort, inheritedEnv, type BenchEnv } from "./bench/env.js";
import { FORCED_WALLETS, runForcedPhase, type ForcedResult } from "./bench/forced-phase.js";
import { runIngestion } from "./bench/ingestion.js";
import { benchQueues } from "./bench/queues.js";
import * as extra from "./bench/report-extra.js";
import * as report from "./bench/report.js";
import { settings } from "./bench/settings.js";
import type { ThroughputResult } from "./bench/throughput.js";
import { runWithdrawalPhase, type WithdrawalRun } from "./bench/withdrawal-phase.js";
import { runWorkerPhase } from "./bench/worker-phase.js";

/**
 * `npm run bench`: how much Coffer's web process costs on the webhook path
 * compared with a bare Koa endpoint doing the same persistence, how fast the
 * worker turns webhooks into balances (top-ups, then refunds and disputes),
 * and how fast the web takes withdrawal requests. A report, not a test: it
 * exits 0 whatever the numbers are, and 1 only if the bench itself could not
 * run. Progress goes to stderr; the tables go to stdout; the JSON goes to a
 * file. The knobs are listed in scripts/bench/settings.ts.
 */
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

  // Phases 3 and 4 reuse phase 2's worker, already warm; phase 4 stops it once its setup is applied.
  let worker: Child | undefined;
  const throughput = await runWorkerPhase({
    env,
    db,
    webUrl: servers.webUrl,
    queues,
    startWorker: () => (worker = startChild("worker", "jobs/worker.ts", env.cofferEnv)),
    settings,
    workerConcurrency,
    log,
  });
  const common = { env, db, webUrl: servers.webUrl, settings, log };
  const forced = await runForcedPhase({ ...common, workerCpuMs: () => worker?.cpuMs() ?? Number.NaN });
  const withdrawals = await runWithdrawalPhase({
    ...common,
    stopWorker: async () => worker?.stop(),
    webCpuMs: () => servers.web.cpuMs(),
  });

  printReport({ startedAt, loadAtStart, workerConcurrency, ingestion, throughput, forced, withdrawals });
}

function printReport(r: {
  startedAt: string;
  loadAtStart: string;
  workerConcurrency: number;
  ingestion: Awaited<ReturnType<typeof runIngestion>>;
  throughput: ThroughputResult[];
  forced: ForcedResult;
  withdrawals: WithdrawalRun[];
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
  out("");
  out(`Worker throughput, refunds and disputes (${FORCED_WALLETS} wallets)`);
  out(extra.forcedThroughputTable(r.forced));
  out("");
  out("Balances after refunds and disputes (each payment a top-up of 1000)");
  out(extra.forcedBalancesTable(r.forced));
  out("");
  out(
    `Withdrawal requests (POST /v1/withdrawals), ${settings.withdrawalConnections} connections, ` +
      "no worker running",
  );
  out(extra.withdrawalTable(r.withdrawals));

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
