import type { Queues } from "./queues.js";
import {
  EXECUTE_WITHDRAWAL,
  PLANS_SYNC,
  PLANS_SYNC_SCHEDULER_ID,
  plansSyncStartJobId,
  RECONCILE_RUN,
  RECONCILE_SCHEDULED,
  RECONCILIATION_SCHEDULER_ID,
  withdrawalJobId,
  type JobData,
  type QueueName,
} from "./names.js";

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
  await addWithTimeout(queues, queue, type, { eventId }, eventId);
}

export async function enqueueWithdrawal(queues: Queues, withdrawalId: string): Promise<void> {
  await addWithTimeout(
    queues,
    "withdrawals",
    EXECUTE_WITHDRAWAL,
    { withdrawalId },
    withdrawalJobId(withdrawalId),
  );
}

/** One job per run (jobId = run id), so a second add for the same run is a no-op. */
export async function enqueueReconciliation(queues: Queues, runId: string): Promise<void> {
  await addWithTimeout(queues, "reconciliation", RECONCILE_RUN, { runId }, runId);
}

/**
 * Registers the daily run. Upserting is idempotent, so every worker does it on every
 * Redis connect: a Redis that came back empty has lost its schedulers too.
 */
export async function registerReconciliationScheduler(queues: Queues, cron: string): Promise<void> {
  await queues.reconciliation.upsertJobScheduler(
    RECONCILIATION_SCHEDULER_ID,
    { pattern: cron, tz: "UTC" },
    { name: RECONCILE_SCHEDULED, data: {} },
  );
}

/** The plans sync's scheduler: upserted on every Redis connect, like the reconciliation's. */
export async function registerPlansSyncScheduler(queues: Queues, cron: string): Promise<void> {
  await queues.maintenance.upsertJobScheduler(
    PLANS_SYNC_SCHEDULER_ID,
    { pattern: cron, tz: "UTC" },
    { name: PLANS_SYNC, data: {} },
  );
}

/** A sync as a worker starts; workers starting in the same minute share one job. */
export async function enqueuePlansSyncAtStart(queues: Queues, now = new Date()): Promise<void> {
  await addWithTimeout(queues, "maintenance", PLANS_SYNC, {}, plansSyncStartJobId(now));
}

async function addWithTimeout(
  queues: Queues,
  queue: QueueName,
  name: string,
  data: JobData,
  jobId: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`enqueue timed out after ${ADD_TIMEOUT_MS} ms`)),
      ADD_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([queues[queue].add(name, data, { jobId }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes sure a job exists for work Postgres says is still open. A kept job in a
 * final state would swallow a plain `add`, so it is retried (failed) or removed
 * first (completed); a job still waiting, delayed or active is left alone.
 */
export async function ensureJob(
  queues: Queues,
  queue: QueueName,
  job: { id: string; name: string; data: JobData },
): Promise<"added" | "retried" | "present"> {
  const q = queues[queue];
  const kept = await q.getJob(job.id);
  if (kept) {
    const state = await kept.getState();
    if (state === "failed") {
      await kept.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
      return "retried";
    }
    if (state !== "completed" && state !== "unknown") return "present";
    await kept.remove();
  }
  await q.add(job.name, job.data, { jobId: job.id });
  return "added";
}
