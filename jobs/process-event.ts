import { UnrecoverableError, type Job } from "bullmq";
import type Stripe from "stripe";
import { finishEvent, noteRetry, releaseForDelay, startProcessing } from "../src/db/stores/events.js";
import type { Trx } from "../src/db/transaction.js";
import type { FlowDeps } from "../src/flows/deps.js";
import { isDomainError } from "../src/ledger/errors.js";
import type { EventJob, QueueName } from "../src/queue/names.js";
import { toCommand } from "../src/stripe/commands.js";
import { classifyStripeError, stripeRateLimit } from "../src/stripe/errors.js";
import { handleCommand } from "../src/flows/handle-command.js";
import { delayJob, rateLimitDelayMs } from "./delay.js";

/**
 * The life of one event job, the same for every queue:
 * claim the row (`processing`, attempts+1) → map to a command → run it →
 * `processed`; or, on error, decide between retry with backoff and `failed`.
 * A rate limit (our Stripe budget, or Stripe's 429) is neither: the job is
 * delayed without spending an attempt, and the row's claim is given back.
 * Every log line carries event_id and job_id (the legacy system lost event_id
 * on some paths), and each job ends with exactly one outcome line.
 */
export function eventProcessor(deps: FlowDeps, queue: QueueName) {
  // The happy path's metric children, looked up once rather than by label object on every job.
  const processedDuration = deps.metrics.jobDuration.labels({ queue, outcome: "processed" });
  const eventLag = deps.metrics.eventLag.labels({ queue });
  return async (job: Job<EventJob>, token?: string): Promise<string> => {
    const eventId = job.data.eventId;
    const log = deps.log.child({ event_id: eventId, job_id: job.id, queue });
    const started = performance.now();
    const done = (outcome: string, extra: object = {}) => {
      const ms = Math.round(performance.now() - started);
      if (outcome === "processed") processedDuration.observe(ms / 1000);
      else deps.metrics.jobDuration.observe({ queue, outcome }, ms / 1000);
      return { ms, outcome, ...extra };
    };

    const row = await startProcessing(deps.db, eventId);
    if (!row) {
      log.info(done("skipped_terminal"), "job done: event already final");
      return "skipped";
    }
    try {
      const signed = row.payload as Stripe.Event;
      // State mirrors order by `event.created`; a signed time ahead of when Coffer received the
      // event cannot be true, and trusting it would freeze the mirror against every later update.
      const receivedS = Math.floor(new Date(row.received_at).getTime() / 1000);
      const event = signed.created > receivedS ? { ...signed, created: receivedS } : signed;
      const receivedAtMs = new Date(row.received_at).getTime();
      // A credit marks its event processed in its own transaction (group commit); the flag is set
      // only once that transaction has committed, so a rolled-back attempt never counts.
      let finished = false;
      const finish = async (trx: Trx) => {
        await finishEvent(trx, eventId, "processed", null);
        trx.afterCommit(() => void (finished = true));
      };
      const result = await handleCommand(deps, toCommand(event), { eventId, log, receivedAtMs, finish });
      if (!finished) await finishEvent(deps.db, eventId, "processed", null);
      eventLag.observe(Math.max(0, Date.now() / 1000 - Number(row.stripe_created)));
      log.info(done("processed", { result, attempts: row.attempts }), "job done");
      return result;
    } catch (err) {
      const wait = waitWithoutAttempt(job, err);
      if (wait && token !== undefined) {
        await releaseForDelay(deps.db, eventId, wait.lastError);
        if (wait.rateLimited)
          deps.metrics.jobDuration.observe(
            { queue, outcome: "rate_limited" },
            (performance.now() - started) / 1000,
          );
        log.info(wait.fields, wait.msg);
        throw await delayJob(job, token, wait.delayMs);
      }
      const kind = failureKind(err);
      const message = err instanceof Error ? err.message : String(err);
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      deps.metrics.jobFailures.inc({ queue, kind });
      if (isDomainError(err) && err.code === "ledger_idempotency_conflict")
        deps.metrics.postingConflicts.inc();
      if (kind === "terminal" || lastAttempt) {
        await finishEvent(deps.db, eventId, "failed", message);
        // error level with alert=true: this event needs a human (replay after a fix, or accept).
        log.error({ ...done("failed"), err, alert: true, attempts: row.attempts }, "job done: event failed");
        throw kind === "terminal" ? new UnrecoverableError(message) : err;
      }
      await noteRetry(deps.db, eventId, message);
      log.warn({ ...done("retry"), err, attempts: row.attempts }, "job failed; will retry");
      throw err;
    }
  };
}

/**
 * Errors that are not failures: Stripe's rate limit (or our budget for it), and a
 * `charge.refunded` waiting for its refunds' own events. The job is delayed and
 * the row gives its attempt back.
 */
function waitWithoutAttempt(
  job: Job,
  err: unknown,
): { delayMs: number; lastError: string; rateLimited: boolean; fields: object; msg: string } | null {
  const limited = stripeRateLimit(err);
  if (limited) {
    const delayMs = rateLimitDelayMs(job, limited);
    const retryAt = new Date(Date.now() + delayMs).toISOString();
    return {
      delayMs,
      lastError: `rate limited by Stripe (${limited.reason}), retrying at ${retryAt}`,
      rateLimited: true,
      fields: { reason: limited.reason, retry_at: retryAt },
      msg: "job delayed: Stripe rate limit",
    };
  }
  if (isDomainError(err) && err.code === "awaiting_sibling_events") {
    const delayMs = Number(err.details.retry_after_ms ?? 3_000);
    return {
      delayMs,
      lastError: err.message,
      rateLimited: false,
      fields: { retry_in_ms: delayMs },
      msg: "job delayed: waiting for sibling events",
    };
  }
  return null;
}

/** Terminal errors cannot heal by retrying: bad data, missing objects, our own refusals. */
function failureKind(err: unknown): "terminal" | "transient" {
  if (isDomainError(err)) return err.terminal ? "terminal" : "transient";
  const stripe = classifyStripeError(err);
  if (stripe === "missing" || stripe === "invalid") return "terminal";
  return "transient";
}
