import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import { createRun } from "../src/db/stores/reconciliation.js";
import { runReconciliation, type ReconcileDeps } from "../src/flows/reconcile-run.js";
import { previousUtcDay, scheduledRunId } from "../src/flows/reconcile-window.js";
import { isDomainError } from "../src/ledger/errors.js";
import type { ReconcileJob } from "../src/queue/names.js";
import { stripeRateLimit } from "../src/stripe/errors.js";
import { delayJob, rateLimitDelayMs } from "./delay.js";

/** While another run holds the lock, wait this long without spending an attempt. */
const BUSY_DELAY_MS = 5_000;

/**
 * Runs a reconciliation job. The scheduler's job names no run: it reconciles the
 * UTC day before it fired, under an id that names that day, so a repeated fire or
 * a retry after a crash finds the same run. Another run in progress delays the job
 * (BullMQ's DelayedError) instead of spending its attempts, and so does a Stripe
 * rate limit: the run starts over later from the stream's cursor, booking nothing twice.
 */
export function reconciliationProcessor(deps: ReconcileDeps) {
  return async (job: Job<ReconcileJob>, token?: string): Promise<string> => {
    let runId = job.data.runId;
    if (runId === undefined) {
      const window = previousUtcDay(new Date(job.timestamp + (job.opts.delay ?? 0)));
      runId = scheduledRunId(window.from);
      await createRun(deps.db, { id: runId, trigger: "schedule", requestedBy: null, ...window });
    }
    const log = deps.log.child({ run_id: runId, job_id: job.id, queue: "reconciliation" });
    try {
      const { run } = await runReconciliation({ ...deps, log }, runId, {
        healWaitMs: deps.config.RECONCILIATION_HEAL_WAIT_MS,
      });
      return run.status;
    } catch (err) {
      if (isDomainError(err) && err.code === "reconciliation_busy" && token !== undefined) {
        await job.moveToDelayed(Date.now() + BUSY_DELAY_MS, token);
        throw new DelayedError();
      }
      const limited = stripeRateLimit(err);
      if (limited && token !== undefined) {
        log.warn({ reason: limited.reason }, "reconciliation run delayed: Stripe rate limit");
        throw await delayJob(job, token, rateLimitDelayMs(job, limited));
      }
      log.error({ err, alert: true }, "reconciliation run failed");
      if (isDomainError(err) && err.terminal) throw new UnrecoverableError(err.message);
      throw err;
    }
  };
}
