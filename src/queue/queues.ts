import { Queue, type JobsOptions } from "bullmq";
import type { RedisConnection } from "./redis.js";
import type { Config } from "../config.js";
import { QUEUE_NAMES, type JobData, type QueueName } from "./names.js";

export interface QueueSettings {
  prefix: string;
  attempts: number;
  backoffMs: number;
}

export type Queues = Record<QueueName, Queue<JobData>>;

/** The settings every process takes from its configuration, so the web, workers and scripts agree. */
export const queueSettings = (
  c: Pick<Config, "QUEUE_PREFIX" | "JOB_ATTEMPTS" | "JOB_BACKOFF_MS">,
): QueueSettings => ({
  prefix: c.QUEUE_PREFIX,
  attempts: c.JOB_ATTEMPTS,
  backoffMs: c.JOB_BACKOFF_MS,
});

/**
 * Completed jobs are kept for a bounded age only: BullMQ silently drops an `add`
 * whose jobId it still holds, so keeping them forever would make every later
 * replay of that event a no-op.
 */
export function jobOptions(s: QueueSettings): JobsOptions {
  return {
    attempts: s.attempts,
    backoff: { type: "exponential", delay: s.backoffMs },
    removeOnComplete: { age: 3_600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3_600 },
  };
}

export function createQueues(connection: RedisConnection, s: QueueSettings): Queues {
  const entries = QUEUE_NAMES.map(
    (name) =>
      [
        name,
        new Queue<JobData>(name, { connection, prefix: s.prefix, defaultJobOptions: jobOptions(s) }),
      ] as const,
  );
  return Object.fromEntries(entries) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}
