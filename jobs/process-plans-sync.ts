import type { Job } from "bullmq";
import type { FlowDeps } from "../src/flows/deps.js";
import { syncPlans } from "../src/flows/plans-sync.js";
import type { PlansSyncJob } from "../src/queue/names.js";
import { stripeRateLimit } from "../src/stripe/errors.js";
import { delayJob, rateLimitDelayMs } from "./delay.js";

/**
 * Runs a plans sync. Stripe's rate limit (or our budget for it) delays the job without spending
 * an attempt; the sync then starts over, which mirrors nothing twice. Other errors retry with
 * the queue's backoff; the next scheduled run would catch up anyway.
 */
export function plansSyncProcessor(deps: FlowDeps) {
  return async (job: Job<PlansSyncJob>, token?: string): Promise<string> => {
    const log = deps.log.child({ job_id: job.id, queue: "maintenance" });
    try {
      const r = await syncPlans({ ...deps, log });
      return `synced ${r.prices} prices, ${r.updated} updated, ${r.unlisted.length} unlisted`;
    } catch (err) {
      const limited = stripeRateLimit(err);
      if (limited && token !== undefined) {
        log.warn({ reason: limited.reason }, "plans sync delayed: Stripe rate limit");
        throw await delayJob(job, token, rateLimitDelayMs(job, limited));
      }
      log.warn({ err }, "plans sync failed; will retry");
      throw err;
    }
  };
}
