import type { Db } from "../../src/db/knex.js";
import { waitFor, type Child } from "./children.js";
import type { BenchEnv } from "./env.js";
import type { BenchQueues } from "./queues.js";
import { cofferReads, seedTopUps, type Seeded } from "./seed.js";
import { throughputRunner, type ThroughputResult } from "./throughput.js";

export interface WorkerPhaseSettings {
  events: number;
  wallets: number[];
  postConnections: number;
  waitTimeoutS: number;
}

/** An untimed batch first, so the first timed scenario does not pay for the worker's cold JIT and pools. */
const WARMUP_EVENTS = 200;
const WARMUP_WALLETS = 10;

/**
 * Phase 2: every scenario's top-ups are seeded before the worker starts (so
 * seeding never competes with it), then the worker comes up, runs an untimed
 * warm-up batch, and each scenario is delivered and timed in turn.
 */
export async function runWorkerPhase(o: {
  env: BenchEnv;
  db: Db;
  webUrl: string;
  queues: BenchQueues;
  startWorker: () => Child;
  settings: WorkerPhaseSettings;
  workerConcurrency: number;
  log: (msg: string) => void;
}): Promise<ThroughputResult[]> {
  const tag = o.env.dbName.slice(-10);
  const seed = (events: number, wallets: number, label: string) =>
    seedTopUps({
      webUrl: o.webUrl,
      standin: o.env.standin,
      jwtSecret: o.env.jwtSecret,
      tag: label,
      events,
      wallets,
    });

  o.log(`phase 2: seeding ${WARMUP_EVENTS} warm-up top-ups over ${WARMUP_WALLETS} wallets`);
  const warmup = await seed(WARMUP_EVENTS, WARMUP_WALLETS, `${tag}_warm`);
  const scenarios: Seeded[] = [];
  for (const [i, wallets] of o.settings.wallets.entries()) {
    o.log(`phase 2: seeding ${o.settings.events} top-ups over ${wallets} wallet(s)`);
    // A label per scenario: users and Idempotency-Keys must not repeat if a wallet count does.
    scenarios.push(await seed(o.settings.events, wallets, `${tag}_s${i}`));
  }

  const worker = o.startWorker();
  await waitFor(worker, "worker on the payments queue", async () => (await o.queues.paymentsWorkers()) > 0);
  const deliver = throughputRunner({
    db: o.db,
    webUrl: o.webUrl,
    secret: o.env.webhookSecret,
    connections: o.settings.postConnections,
    waitTimeoutS: o.settings.waitTimeoutS,
    workerCpuMs: () => worker.cpuMs(),
    stripeReads: () => cofferReads(o.env.standin),
  });

  const warm = await deliver(warmup);
  o.log(`phase 2: warm-up batch ${warm.eventsPerS.toFixed(0)} events/s (not counted)`);
  const results: ThroughputResult[] = [];
  for (const s of scenarios) {
    o.log(
      `phase 2: ${s.events.length} events over ${s.wallets} wallet(s), WORKER_CONCURRENCY=${o.workerConcurrency}`,
    );
    const r = await deliver(s);
    o.log(`  ${r.eventsPerS.toFixed(0)} events/s, lag p99 ${r.lagP99Ms.toFixed(0)} ms`);
    results.push(r);
  }
  return results;
}
