import type { Job } from "bullmq";
import type { FlowDeps } from "../src/flows/deps.js";
import { executeWithdrawal } from "../src/flows/withdrawal-execute.js";
import type { WithdrawalJob } from "../src/queue/names.js";

/**
 * Runs an approved withdrawal's payment. Every failure is thrown back to BullMQ
 * for a retry with backoff: executeWithdrawal has already ended the withdrawal
 * itself where Stripe's answer was final, and re-running it never pays twice.
 */
export function withdrawalProcessor(deps: FlowDeps) {
  return async (job: Job<WithdrawalJob>): Promise<string> => {
    const log = deps.log.child({
      withdrawal_id: job.data.withdrawalId,
      job_id: job.id,
      queue: "withdrawals",
    });
    const started = performance.now();
    try {
      const outcome = await executeWithdrawal(deps, job.data.withdrawalId, log);
      const ms = Math.round(performance.now() - started);
      deps.metrics.jobDuration.observe({ queue: "withdrawals", outcome: "processed" }, ms / 1000);
      log.info({ outcome, ms }, "job done");
      return outcome;
    } catch (err) {
      const ms = Math.round(performance.now() - started);
      deps.metrics.jobFailures.inc({ queue: "withdrawals", kind: "transient" });
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      // After the last attempt the sweeper picks the withdrawal up again later.
      log[lastAttempt ? "error" : "warn"](
        { err, ms, attempts: job.attemptsMade + 1, alert: lastAttempt },
        "withdrawal job failed; will retry",
      );
      throw err;
    }
  };
}
