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
  idempotency_key: string | null;
  reason: string | null;
  last_error: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  transfer_attempts: number;
  payout_attempts: number;
  transfer_key_version: number;
  payout_key_version: number;
  /** Set while Stripe says `balance_insufficient`: the withdrawal waits for funds since then. */
  funds_waiting_since: Date | null;
  funds_wait_long_alerted: boolean;
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

/** `by = -1` takes back an attempt that provably never reached Stripe (a rate limit). */
export async function bumpAttempts(
  trx: Tx,
  id: string,
  column: "transfer_attempts" | "payout_attempts" | "transfer_key_version" | "payout_key_version",
  by = 1,
): Promise<void> {
  await trx("withdrawal_requests").where({ id }).increment(column, by);
}

/**
 * Starts (or continues) a wait for Stripe funds at `now`, writing why in `last_error`. `started`
 * is true for the one call that began the wait, so its alert is logged once across workers.
 */
export async function noteFundsWait(
  trx: Tx,
  id: string,
  now: Date,
  lastError: (since: Date) => string,
): Promise<{ since: Date; started: boolean }> {
  const started = await trx("withdrawal_requests")
    .where({ id })
    .whereNull("funds_waiting_since")
    .update({ funds_waiting_since: now, funds_wait_long_alerted: false }, ["id"]);
  const row = await getWithdrawal(trx, id);
  const since = row?.funds_waiting_since ?? now;
  await updateWithdrawal(trx, id, { last_error: lastError(since) });
  return { since, started: started.length > 0 };
}

/** True for the one caller that marks a long wait as alerted. */
export async function markLongWaitAlerted(trx: Tx, id: string): Promise<boolean> {
  const rows = await trx("withdrawal_requests")
    .where({ id, funds_wait_long_alerted: false })
    .whereNotNull("funds_waiting_since")
    .update({ funds_wait_long_alerted: true }, ["id"]);
  return rows.length > 0;
}

/** Why an open withdrawal is not moving right now (a rate limit); a final one keeps its own reason. */
export async function noteOpenError(trx: Tx, id: string, lastError: string): Promise<void> {
  await trx("withdrawal_requests")
    .where({ id })
    .whereIn("status", ["approved", "processing"])
    .update({ last_error: lastError, updated_at: trx.fn.now() });
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

/**
 * Approved or in-flight withdrawals not touched for a while: the sweeper makes sure each has a
 * job. One waiting for funds is among them (its job is delayed for up to an hour), and ensureJob
 * finds that delayed job present and leaves it be.
 */
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
