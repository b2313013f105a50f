import type { Job } from "bullmq";
import { noteOpenError } from "../src/db/stores/withdrawals.js";
import type { FlowDeps } from "../src/flows/deps.js";
import { executeWithdrawal } from "../src/flows/withdrawal-execute.js";
import { WaitingForFunds } from "../src/flows/withdrawal-funds-wait.js";
import type { WithdrawalJob } from "../src/queue/names.js";
import { stripeRateLimit } from "../src/stripe/errors.js";
import { delayJob, rateLimitDelayMs } from "./delay.js";

/**
 * Runs an approved withdrawal's payment. Waiting is not failing: while Stripe
 * lacks the funds (WaitingForFunds, with its own backoff up to an hour) or
 * rate limits us, the job is delayed without spending an attempt, so it can
 * wait for days under the same job. Every other failure is thrown back to
 * BullMQ for a retry with backoff: executeWithdrawal has already ended the
 * withdrawal itself where Stripe's answer was final, and re-running it never
 * pays twice.
 */
export function withdrawalProcessor(deps: FlowDeps) {
  return async (job: Job<WithdrawalJob>, token?: string): Promise<string> => {
    const id = job.data.withdrawalId;
    const log = deps.log.child({ withdrawal_id: id, job_id: job.id, queue: "withdrawals" });
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const outcome = await executeWithdrawal({ ...deps, log }, id, log);
      deps.metrics.jobDuration.observe({ queue: "withdrawals", outcome: "processed" }, seconds());
      log.info({ outcome, ms: Math.round(seconds() * 1000) }, "job done");
      return outcome;
    } catch (err) {
      if (token !== undefined && err instanceof WaitingForFunds) {
        // executeWithdrawal wrote last_error and the alerts; the wait itself is silent.
        deps.metrics.jobDuration.observe({ queue: "withdrawals", outcome: "waiting_for_funds" }, seconds());
        throw await delayJob(job, token, err.delayMs);
      }
      const limited = stripeRateLimit(err);
      if (token !== undefined && limited) {
        const delayMs = rateLimitDelayMs(job, limited);
        const retryAt = new Date(Date.now() + delayMs).toISOString();
        await noteOpenError(
          deps.db,
          id,
          `rate limited by Stripe (${limited.reason}), retrying at ${retryAt}`,
        );
        deps.metrics.jobDuration.observe({ queue: "withdrawals", outcome: "rate_limited" }, seconds());
        log.info({ reason: limited.reason, retry_at: retryAt }, "job delayed: Stripe rate limit");
        throw await delayJob(job, token, delayMs);
      }
      deps.metrics.jobFailures.inc({ queue: "withdrawals", kind: "transient" });
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      // After the last attempt the sweeper picks the withdrawal up again later.
      log[lastAttempt ? "error" : "warn"](
        { err, ms: Math.round(seconds() * 1000), attempts: job.attemptsMade + 1, alert: lastAttempt },
        "withdrawal job failed; will retry",
      );
      throw err;
    }
  };
}
