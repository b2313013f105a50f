import { findStaleOpenEvents, touchEnqueued } from "../src/db/stores/events.js";
import { purgeKeys } from "../src/db/stores/http-idempotency.js";
import type { Db } from "../src/db/knex.js";
import type { Logger } from "../src/logger.js";
import type { Metrics } from "../src/metrics.js";
import { ensureEventJob } from "../src/queue/enqueue.js";
import type { Queues } from "../src/queue/queues.js";
import { queueForEvent } from "../src/stripe/routing.js";

export interface SweeperOptions {
  intervalMs: number;
  /** An open event whose last enqueue is older than this gets its job checked and, if gone, added again. */
  afterMs: number;
  batch?: number;
}

/**
 * Runs in every worker on an in-process timer, not as a BullMQ repeatable job:
 * a Redis that lost its data has lost its repeatable jobs too, and this is the
 * thing that recovers from exactly that. Postgres says which events are still
 * open; for each, the job is re-added unless BullMQ still has it pending.
 * Several workers sweeping at once is harmless: jobId = event id dedupes.
 */
export function startSweeper(
  deps: { db: Db; queues: Queues; log: Logger; metrics: Metrics },
  o: SweeperOptions,
): () => Promise<void> {
  let running: Promise<void> | null = null;
  let ticks = 0;
  const tick = async () => {
    const stale = await findStaleOpenEvents(deps.db, o.afterMs, o.batch ?? 500);
    const touched: string[] = [];
    for (const e of stale) {
      const queue = queueForEvent(e.type);
      if (!queue) continue;
      const result = await ensureEventJob(deps.queues, queue, e.id, e.type);
      touched.push(e.id);
      if (result !== "present") {
        deps.metrics.sweeperEnqueued.inc();
        deps.log.info({ event_id: e.id, result }, "sweeper re-enqueued event");
      }
    }
    await touchEnqueued(deps.db, touched);
    // Idempotency keys are kept at least 24 h; purge hourly-ish, well after that.
    if (ticks++ % 360 === 0) await purgeKeys(deps.db, 48);
  };
  const timer = setInterval(() => {
    if (running) return; // never overlap two sweeps in one process
    running = tick()
      .catch((err: unknown) => deps.log.warn({ err }, "sweep failed; will try again"))
      .finally(() => (running = null));
  }, o.intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
