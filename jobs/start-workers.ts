import { Worker, type Job } from "bullmq";
import type { RedisConnection } from "../src/queue/redis.js";
import { GroupCommit } from "../src/db/group-commit.js";
import {
  enqueuePlansSyncAtStart,
  registerPlansSyncScheduler,
  registerReconciliationScheduler,
} from "../src/queue/enqueue.js";
import {
  EXECUTE_WITHDRAWAL,
  PLANS_SYNC,
  type PlansSyncJob,
  RECONCILE_RUN,
  RECONCILE_SCHEDULED,
  type EventJob,
  type JobData,
  type ReconcileJob,
  type WithdrawalJob,
} from "../src/queue/names.js";
import { closeQueues, createQueues, queueSettings } from "../src/queue/queues.js";
import { masters, workerConnection } from "../src/queue/redis.js";
import type { Runtime } from "../src/runtime.js";
import { serveWorkerMetrics } from "./metrics-server.js";
import { eventProcessor } from "./process-event.js";
import { reconciliationProcessor } from "./process-reconciliation.js";
import { plansSyncProcessor } from "./process-plans-sync.js";
import { withdrawalProcessor } from "./process-withdrawal.js";
import { startSweeper } from "./sweeper.js";
import { startBalanceFollower } from "./balance-follower.js";

/**
 * Starts one BullMQ Worker per configured queue, the sweeper, and the Redis
 * checks. Returns a stop function that drains gracefully: workers finish their
 * active jobs (up to BullMQ's close), then connections close.
 */
export async function startWorkers(rt: Runtime): Promise<{ stop: () => Promise<void> }> {
  const { config, logger } = rt;
  const connection = workerConnection(config);
  connection.on("error", (err) => logger.warn({ err: err.message }, "redis connection error"));
  // The runtime's producer connection, which the Stripe budget counts on too.
  const producer = rt.redis;
  connection.on("ready", () => void checkRedisPolicy(connection, logger));

  const queues = createQueues(producer, queueSettings(config));
  // One group commit per process: the credits of all its jobs in flight share transactions.
  const groupCommit =
    config.GROUP_COMMIT_MAX_BATCH > 1
      ? new GroupCommit(rt.db, {
          windowMs: config.GROUP_COMMIT_WINDOW_MS,
          maxBatch: config.GROUP_COMMIT_MAX_BATCH,
          log: logger,
          observe: {
            committed: (jobs) => rt.metrics.groupCommitJobs.observe(jobs),
            fellBack: () => rt.metrics.groupCommitFallbacks.inc(),
          },
        })
      : undefined;
  const deps = {
    config,
    db: rt.db,
    stripe: rt.stripe,
    metrics: rt.metrics,
    log: logger,
    ...(rt.now && { now: rt.now }),
    ...(groupCommit && { groupCommit }),
  };
  const executeWithdrawal = withdrawalProcessor(deps);
  const reconcile = reconciliationProcessor({ ...deps, queues });
  const syncPlans = plansSyncProcessor(deps);
  const workers = config.WORKER_QUEUES.map((name) => {
    const onEvent = eventProcessor(deps, name);
    // Each queue carries its Stripe events; `withdrawals` also carries the payout jobs that approvals
    // start, and `reconciliation` the runs. The token lets a processor delay its own job
    // (moveToDelayed) without spending an attempt.
    const processor = (job: Job<JobData>, token?: string) => {
      if (job.name === EXECUTE_WITHDRAWAL) return executeWithdrawal(job as Job<WithdrawalJob>, token);
      if (job.name === RECONCILE_RUN || job.name === RECONCILE_SCHEDULED)
        return reconcile(job as Job<ReconcileJob>, token);
      if (job.name === PLANS_SYNC) return syncPlans(job as Job<PlansSyncJob>, token);
      return onEvent(job as Job<EventJob>, token);
    };
    const w = new Worker<JobData>(name, processor, {
      connection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.JOB_LOCK_MS,
      // How soon a job whose worker died is noticed; tied to the lock it waits out.
      stalledInterval: config.JOB_LOCK_MS,
      // A job whose worker died is picked up again after its lock expires; keep retrying
      // such stalls rather than failing the job: the event is idempotent.
      maxStalledCount: 100,
    });
    // An unhandled 'error' event would crash the process; log it and let BullMQ reconnect.
    w.on("error", (err) => logger.error({ err, queue: name }, "worker error"));
    return w;
  });
  const stopTimers: Array<() => void> = [];
  if (config.WORKER_QUEUES.includes("reconciliation")) {
    // Every (re)connect: a Redis restarted empty has lost the scheduler with everything else.
    const register = () =>
      registerReconciliationScheduler(queues, config.RECONCILIATION_CRON).then(
        () => logger.debug({ cron: config.RECONCILIATION_CRON }, "reconciliation scheduler registered"),
        (err: unknown) =>
          logger.warn(
            { err },
            "could not register the reconciliation scheduler; retried on reconnect and every 5 min",
          ),
      );
    producer.on("ready", () => void register());
    // And every few minutes: a FLUSHALL empties Redis without a reconnect to notice it by.
    const again = setInterval(() => void register(), SCHEDULER_REFRESH_MS);
    again.unref();
    stopTimers.push(() => clearInterval(again));
  }
  if (config.WORKER_QUEUES.includes("maintenance")) {
    // The plans sync's scheduler, kept registered the same way; and one sync now, as the worker starts.
    const register = () =>
      registerPlansSyncScheduler(queues, config.PLANS_SYNC_CRON).then(
        () => logger.debug({ cron: config.PLANS_SYNC_CRON }, "plans sync scheduler registered"),
        (err: unknown) =>
          logger.warn({ err }, "could not register the plans sync scheduler; retried on reconnect"),
      );
    producer.on("ready", () => void register());
    const again = setInterval(() => void register(), SCHEDULER_REFRESH_MS);
    again.unref();
    stopTimers.push(() => clearInterval(again));
    void register();
    await enqueuePlansSyncAtStart(queues).catch((err: unknown) =>
      logger.warn({ err }, "could not enqueue the start-up plans sync; the scheduler runs it later"),
    );
  }
  const stopSweeper = startSweeper(
    { db: rt.db, queues, log: logger, metrics: rt.metrics },
    { intervalMs: config.SWEEP_INTERVAL_MS, afterMs: config.SWEEP_AFTER_MS },
  );
  const stopFollower = config.WORKER_QUEUES.includes("reconciliation")
    ? startBalanceFollower(deps, config.BALANCE_STREAM_INTERVAL_MS)
    : async () => {};
  const metricsServer = serveWorkerMetrics(rt.metrics, config.WORKER_METRICS_PORT, logger);
  return {
    stop: async () => {
      metricsServer?.close();
      for (const stop of stopTimers) stop();
      await stopSweeper();
      await stopFollower();
      await Promise.all(workers.map((w) => w.close()));
      await groupCommit?.close();
      await closeQueues(queues);
      connection.disconnect();
      producer.disconnect();
      await rt.db.destroy();
    },
  };
}

const SCHEDULER_REFRESH_MS = 5 * 60_000;

/** BullMQ needs Redis to keep every key; any eviction policy can silently drop jobs. On a cluster, on every master. */
async function checkRedisPolicy(redis: RedisConnection, logger: Runtime["logger"]): Promise<void> {
  for (const node of masters(redis)) {
    try {
      const reply = (await node.config("GET", "maxmemory-policy")) as string[];
      const policy = reply[1];
      if (policy !== "noeviction")
        logger.warn(
          { policy, node: `${node.options.host}:${node.options.port}` },
          "Redis maxmemory-policy is not noeviction: jobs may be evicted",
        );
    } catch (err) {
      logger.warn({ err }, "could not read Redis maxmemory-policy");
    }
  }
}
