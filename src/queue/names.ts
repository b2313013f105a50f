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

export type JobData = EventJob | WithdrawalJob;

/** BullMQ job ids may not contain ':'. One job per withdrawal; re-runs are safe (see executeWithdrawal). */
export const withdrawalJobId = (withdrawalId: string) => `${withdrawalId}-execute`;
