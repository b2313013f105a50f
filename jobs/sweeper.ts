import { findStaleOpenEvents, touchEnqueued } from "../src/db/stores/events.js";
import { purgeKeys } from "../src/db/stores/http-idempotency.js";
import type { Db } from "../src/db/knex.js";
import type { Logger } from "../src/logger.js";
import type { Metrics } from "../src/metrics.js";
import { findStalledWithdrawals } from "../src/db/stores/withdrawals.js";
import { ensureJob } from "../src/queue/enqueue.js";
import { findOpenRuns } from "../src/db/stores/reconciliation.js";
import { EXECUTE_WITHDRAWAL, RECONCILE_RUN, withdrawalJobId } from "../src/queue/names.js";
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
 * A job delayed by a rate limit counts as pending, so it is never added twice.
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
      const result = await ensureJob(deps.queues, queue, { id: e.id, name: e.type, data: { eventId: e.id } });
      touched.push(e.id);
      if (result !== "present") {
        deps.metrics.sweeperEnqueued.inc();
        deps.log.info({ event_id: e.id, result }, "sweeper re-enqueued event");
      }
    }
    await touchEnqueued(deps.db, touched);
    // Approved withdrawals whose job Redis lost, or that spent its attempts on a transient error,
    // are picked up again: executeWithdrawal is safe to re-run. One waiting for funds or out a
    // rate limit has a delayed job, which ensureJob leaves alone ("present"): it neither gets a
    // second job nor starts again under a new key.
    for (const id of await findStalledWithdrawals(deps.db, o.afterMs, o.batch ?? 500)) {
      const result = await ensureJob(deps.queues, "withdrawals", {
        id: withdrawalJobId(id),
        name: EXECUTE_WITHDRAWAL,
        data: { withdrawalId: id },
      });
      if (result !== "present")
        deps.log.info({ withdrawal_id: id, result }, "sweeper re-enqueued withdrawal");
    }
    // A reconciliation run whose job Redis lost: a run restarts cleanly, so re-adding it is safe.
    for (const id of await findOpenRuns(deps.db, o.afterMs)) {
      const result = await ensureJob(deps.queues, "reconciliation", {
        id,
        name: RECONCILE_RUN,
        data: { runId: id },
      });
      if (result !== "present")
        deps.log.info({ run_id: id, result }, "sweeper re-enqueued reconciliation run");
    }
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
