import { Writable } from "node:stream";
import { pino } from "pino";
import { startWorkers } from "../../jobs/start-workers.js";
import { createDb } from "../../src/db/knex.js";
import { createMetrics } from "../../src/metrics.js";
import { producerConnection } from "../../src/queue/redis.js";
import { budgetedStripe, type Runtime } from "../../src/runtime.js";
import type { System } from "./system.js";

export interface InProcessWorkers {
  /** Every log line the workers wrote, parsed, oldest first. */
  lines: Array<Record<string, unknown>>;
  /** Moves the flows' clock forward; BullMQ and Postgres keep real time. */
  advance(ms: number): void;
  now(): Date;
  stop(): Promise<void>;
}

/**
 * The workers of jobs/start-workers.ts, run in the test's process instead of a child, for the
 * one thing a child cannot give: a clock the test moves (the flows' `now`), so that days of
 * waiting pass in seconds. Everything else is as in production: its own Postgres pool and Redis
 * connections, the budgeted Stripe client, the sweeper.
 */
export async function startInProcessWorkers(sys: System): Promise<InProcessWorkers> {
  const lines: InProcessWorkers["lines"] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as never);
      done();
    },
  });
  let offsetMs = 0;
  const now = () => new Date(Date.now() + offsetMs);
  const redis = producerConnection(sys.config.REDIS_URL);
  const rt: Runtime = {
    config: sys.config,
    logger: pino({ name: "coffer-worker", level: "debug" }, sink),
    db: createDb(sys.tdb.url),
    stripe: budgetedStripe(sys.config, redis, sys.standin.url),
    metrics: createMetrics(),
    redis,
    now,
  };
  redis.on("error", () => undefined);
  const running = await startWorkers(rt);
  return { lines, now, advance: (ms) => void (offsetMs += ms), stop: running.stop };
}
