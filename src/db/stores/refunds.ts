import type { Tx } from "../knex.js";

export interface RefundRow {
  id: string;
  payment_intent_id: string;
  charge_id: string | null;
  user_id: string;
  amount_minor: number;
  currency: string;
  status: string;
}

/**
 * Refund statuses in the order they can progress. A refund may fail after it
 * showed `succeeded` (the bank returned it), but never comes back from
 * `failed` or `canceled`: a stale read of an earlier status is ignored.
 */
export const REFUND_STATUS_RANK: Readonly<Record<string, number>> = {
  requires_action: 1,
  pending: 1,
  succeeded: 2,
  failed: 9,
  canceled: 9,
  released: 9,
};
/** Coffer's own status for the uncaptured rest a partial capture released: recorded, never debited. */
export const RELEASED = "released";
/** Statuses in which the refund's money has left (or is leaving) the wallet. */
export const ACTIVE_REFUND_STATUSES = ["requires_action", "pending", "succeeded"];

export async function lockRefund(trx: Tx, id: string): Promise<RefundRow | undefined> {
  return trx<RefundRow>("stripe_refunds").where({ id }).forUpdate().first();
}

export async function upsertRefund(trx: Tx, r: RefundRow): Promise<void> {
  await trx("stripe_refunds")
    .insert({ ...r })
    .onConflict("id")
    .merge({ status: r.status, amount_minor: r.amount_minor, updated_at: trx.fn.now() });
}

/** What the payment's active refunds add up to, excluding one refund (the one being decided). */
export async function activeRefundedMinor(
  trx: Tx,
  paymentIntentId: string,
  excludeId?: string,
): Promise<number> {
  const q = trx("stripe_refunds")
    .where({ payment_intent_id: paymentIntentId })
    .whereIn("status", ACTIVE_REFUND_STATUSES)
    .sum({ s: "amount_minor" });
  if (excludeId) q.whereNot({ id: excludeId });
  const row = (await q.first()) as { s: string | number | null } | undefined;
  return Number(row?.s ?? 0);
}
