import { OPEN_DISPUTE_STATUSES } from "../../ledger/disputes.js";
import type { Tx } from "../knex.js";

export interface DisputeRow {
  id: string;
  payment_intent_id: string;
  charge_id: string | null;
  user_id: string;
  amount_minor: number;
  currency: string;
  status: string;
  /** `created` of the event whose snapshot set the status (0 before any). */
  status_as_of: number;
}

export async function lockDispute(trx: Tx, id: string): Promise<DisputeRow | undefined> {
  return trx<DisputeRow>("stripe_disputes").where({ id }).forUpdate().first();
}

export async function upsertDispute(trx: Tx, d: DisputeRow): Promise<void> {
  await trx("stripe_disputes")
    .insert({ ...d })
    .onConflict("id")
    .merge({
      status: d.status,
      status_as_of: d.status_as_of,
      amount_minor: d.amount_minor,
      updated_at: trx.fn.now(),
    });
}

export async function hasOpenDispute(trx: Tx, userId: string): Promise<boolean> {
  const row = await trx("stripe_disputes")
    .where({ user_id: userId })
    .whereIn("status", [...OPEN_DISPUTE_STATUSES])
    .first("id");
  return row !== undefined;
}
