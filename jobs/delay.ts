import { DelayedError, type Job } from "bullmq";
import type { RateLimited } from "../src/stripe/errors.js";

/** However many times in a row a job was rate limited, it comes back within this. */
const RATE_LIMIT_MAX_DELAY_MS = 30_000;

/**
 * How long a rate-limited job waits: the hint (the budget's, Stripe's Retry-After, or a second),
 * doubled for each time this job was already put back without failing (BullMQ counts starts, not
 * only failures), capped, with ±25 % jitter so jobs limited together do not return together.
 */
export function rateLimitDelayMs(job: Job, limited: RateLimited): number {
  const putBack = Math.max(0, job.attemptsStarted - job.attemptsMade - 1);
  const base = Math.min(limited.retryAfterMs * 2 ** Math.min(putBack, 10), RATE_LIMIT_MAX_DELAY_MS);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * Puts the job back in BullMQ's delayed set for `delayMs` without spending an attempt; the
 * processor throws what this returns, which tells the worker the job was moved, not failed.
 */
export async function delayJob(job: Job, token: string, delayMs: number): Promise<DelayedError> {
  await job.moveToDelayed(Date.now() + delayMs, token);
  return new DelayedError();
}
