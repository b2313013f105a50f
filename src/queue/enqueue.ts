import type { Queues } from "./queues.js";
import type { QueueName } from "./names.js";

/** How long a webhook waits on Redis before answering from Postgres alone. */
const ADD_TIMEOUT_MS = 1_500;

/**
 * Adds the job for an event with `jobId` = event id, so BullMQ itself dedupes
 * concurrent deliveries of one event while the job is kept.
 */
export async function enqueueEvent(
  queues: Queues,
  queue: QueueName,
  eventId: string,
  type: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`enqueue timed out after ${ADD_TIMEOUT_MS} ms`)),
      ADD_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([queues[queue].add(type, { eventId }, { jobId: eventId }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Re-enqueues an event whose job may be gone or finished. A kept job in a final
 * state would swallow a plain `add`, so it is retried (failed) or removed first
 * (completed); a job still waiting, delayed or active is left alone.
 */
export async function ensureEventJob(
  queues: Queues,
  queue: QueueName,
  eventId: string,
  type: string,
): Promise<"added" | "retried" | "present"> {
  const q = queues[queue];
  const job = await q.getJob(eventId);
  if (job) {
    const state = await job.getState();
    if (state === "failed") {
      await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
      return "retried";
    }
    if (state !== "completed" && state !== "unknown") return "present";
    await job.remove();
  }
  await q.add(type, { eventId }, { jobId: eventId });
  return "added";
}
