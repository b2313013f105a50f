import type { Tx } from "../knex.js";

export const WITHDRAWAL_STATUSES = [
  "pending_review",
  "canceled",
  "rejected",
  "approved",
  "processing",
  "paid",
  "failed",
  "reversed",
] as const;
export type WithdrawalStatus = (typeof WITHDRAWAL_STATUSES)[number];

export interface WithdrawalRow {
  id: string;
  user_id: string;
  currency: string;
  amount_minor: number;
  fee_minor: number;
  net_minor: number;
  status: WithdrawalStatus;
  connected_account_id: string | null;
  transfer_id: string | null;
  payout_id: string | null;
  reversal_id: string | null;
  idempotency_key: string | null;
  reason: string | null;
  last_error: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  transfer_attempts: number;
  payout_attempts: number;
  transfer_key_version: number;
  payout_key_version: number;
  created_at: Date;
  updated_at: Date;
}

export async function insertWithdrawal(
  trx: Tx,
  w: Pick<
    WithdrawalRow,
    | "id"
    | "user_id"
    | "currency"
    | "amount_minor"
    | "fee_minor"
    | "net_minor"
    | "connected_account_id"
    | "idempotency_key"
  >,
): Promise<WithdrawalRow> {
  const [row] = await trx<WithdrawalRow>("withdrawal_requests")
    .insert({ ...w, status: "pending_review" })
    .returning("*");
  return row!;
}

export async function findByIdempotencyKey(
  trx: Tx,
  userId: string,
  key: string,
): Promise<WithdrawalRow | undefined> {
  return trx<WithdrawalRow>("withdrawal_requests").where({ user_id: userId, idempotency_key: key }).first();
}

export async function getWithdrawal(trx: Tx, id: string): Promise<WithdrawalRow | undefined> {
  return trx<WithdrawalRow>("withdrawal_requests").where({ id }).first();
}

/** Row lock for a state change; every transition reads the status under this lock. */
export async function lockWithdrawal(trx: Tx, id: string): Promise<WithdrawalRow | undefined> {
  return trx<WithdrawalRow>("withdrawal_requests").where({ id }).forUpdate().first();
}

export async function updateWithdrawal(
  trx: Tx,
  id: string,
  patch: Partial<WithdrawalRow>,
): Promise<WithdrawalRow> {
  const [row] = (await trx("withdrawal_requests")
    .where({ id })
    .update({ ...patch, updated_at: trx.fn.now() })
    .returning("*")) as WithdrawalRow[];
  return row!;
}

export async function bumpAttempts(
  trx: Tx,
  id: string,
  column: "transfer_attempts" | "payout_attempts" | "transfer_key_version" | "payout_key_version",
): Promise<void> {
  await trx("withdrawal_requests").where({ id }).increment(column, 1);
}

export async function listWithdrawals(
  trx: Tx,
  f: { userId?: string; status?: string; limit: number; startingAfter?: string },
): Promise<{ data: WithdrawalRow[]; hasMore: boolean }> {
  const q = trx<WithdrawalRow>("withdrawal_requests")
    .orderBy("id", "desc")
    .limit(f.limit + 1);
  if (f.userId !== undefined) q.where({ user_id: f.userId });
  if (f.status !== undefined) q.where({ status: f.status as WithdrawalStatus });
  if (f.startingAfter !== undefined) q.where("id", "<", f.startingAfter);
  const rows = await q;
  return { data: rows.slice(0, f.limit), hasMore: rows.length > f.limit };
}

/** Approved or in-flight withdrawals not touched for a while: the sweeper makes sure each has a job. */
export async function findStalledWithdrawals(trx: Tx, olderThanMs: number, limit: number): Promise<string[]> {
  return trx("withdrawal_requests")
    .where((q) =>
      q
        .where({ status: "approved" })
        .orWhere((q2) => q2.where({ status: "processing" }).whereNull("payout_id")),
    )
    .where("updated_at", "<", trx.raw(`now() - (? * interval '1 millisecond')`, [olderThanMs]))
    .orderBy("updated_at")
    .limit(limit)
    .pluck("id");
}
