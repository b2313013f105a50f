import { QUEUE_NAMES } from "../config.js";

export { QUEUE_NAMES };
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Every job about a Stripe event carries only the event id; the payload is read from Postgres. */
export interface EventJob {
  eventId: string;
}

/** Pays out an approved withdrawal; runs on the `withdrawals` queue beside that queue's events. */
export const EXECUTE_WITHDRAWAL = "withdrawal.execute";
export interface WithdrawalJob {
  withdrawalId: string;
}

/**
 * Reconciliation jobs on the `reconciliation` queue. An on-demand run names its row;
 * the scheduler's job carries nothing and reconciles the UTC day before it fired.
 */
export const RECONCILE_RUN = "reconcile.run";
export const RECONCILE_SCHEDULED = "reconcile.scheduled";
export const RECONCILIATION_SCHEDULER_ID = "reconciliation-daily";
export interface ReconcileJob {
  runId?: string;
}

/**
 * The plans sync on the `maintenance` queue (src/flows/plans-sync.ts): from its scheduler
 * (PLANS_SYNC_CRON), and once as each worker starts, under a job id per minute so that workers
 * starting together sync once.
 */
export const PLANS_SYNC = "plans.sync";
export const PLANS_SYNC_SCHEDULER_ID = "plans-sync";
export const plansSyncStartJobId = (at: Date) => `plans-sync-start-${Math.floor(at.getTime() / 60_000)}`;
export type PlansSyncJob = Record<string, never>;

export type JobData = EventJob | WithdrawalJob | ReconcileJob | PlansSyncJob;

/** BullMQ job ids may not contain ':'. One job per withdrawal; re-runs are safe (see executeWithdrawal). */
export const withdrawalJobId = (withdrawalId: string) => `${withdrawalId}-execute`;
