import { settlingMinor } from "../../ledger/settling.js";
import type { Tx } from "../knex.js";
import { prepared, type Statement } from "../prepared.js";
import { unsettledCredits } from "./settling.js";

export interface BalanceRow {
  user_id: string;
  currency: string;
  available_minor: number;
  pending_minor: number;
  held_minor: number;
  version: number;
}

/**
 * Locks the given (user, currency) balance rows, creating zero rows first so
 * there is always a row to lock (an absent row cannot be locked, and two
 * first-time writers would otherwise race on the insert).
 *
 * Lock order: one statement, `ORDER BY user_id, currency` in the C collation.
 * Every writer takes its balance locks here, so all transactions acquire them
 * in the same global order and cannot deadlock on each other.
 */
export async function lockBalances(
  trx: Tx,
  pairs: ReadonlyArray<{ userId: string; currency: string }>,
): Promise<Map<string, BalanceRow>> {
  const out = new Map<string, BalanceRow>();
  if (pairs.length === 0) return out;
  const users = pairs.map((p) => p.userId);
  const currencies = pairs.map((p) => p.currency);
  await trx.raw(
    `INSERT INTO user_wallet_balances (user_id, currency)
     SELECT * FROM unnest(?::text[], ?::text[])
     ON CONFLICT (user_id, currency) DO NOTHING`,
    [users, currencies],
  );
  const { rows } = await trx.raw<{ rows: BalanceRow[] }>(
    `SELECT user_id, currency, available_minor, pending_minor, held_minor, version
       FROM user_wallet_balances
      WHERE (user_id, currency) IN (SELECT * FROM unnest(?::text[], ?::text[]))
      ORDER BY user_id COLLATE "C", currency COLLATE "C"
      FOR NO KEY UPDATE`,
    [users, currencies],
  );
  for (const r of rows) out.set(balanceKey(r.user_id, r.currency), r);
  return out;
}

export const balanceKey = (userId: string, currency: string) => `${userId}\u0000${currency}`;

export async function applyBalanceDelta(
  trx: Tx,
  d: { userId: string; currency: string; available: number; held: number },
): Promise<void> {
  await trx.raw(
    `UPDATE user_wallet_balances
        SET available_minor = available_minor + ?, held_minor = held_minor + ?,
            version = version + 1, updated_at = now()
      WHERE user_id = ? AND currency = ?`,
    [d.available, d.held, d.userId, d.currency],
  );
}

export async function setPending(
  trx: Tx,
  userId: string,
  currency: string,
  pendingMinor: number,
): Promise<void> {
  await trx.raw(
    `UPDATE user_wallet_balances SET pending_minor = ?, version = version + 1, updated_at = now()
      WHERE user_id = ? AND currency = ? AND pending_minor <> ?`,
    [pendingMinor, userId, currency, pendingMinor],
  );
}

/**
 * Locks the balance rows that exist among these, in the global order (as lockBalances does), and
 * creates none: a group commit (src/db/group-commit.ts) takes its batch's locks up front from
 * what each job declares, before any job has checked that its wallet is real. A wallet's first
 * posting then creates and locks its row itself.
 */
export async function lockExistingBalances(
  trx: Tx,
  pairs: ReadonlyArray<{ userId: string; currency: string }>,
): Promise<void> {
  await prepared(trx, LOCK_EXISTING, [pairs.map((p) => p.userId), pairs.map((p) => p.currency)]);
}

const LOCK_EXISTING: Statement = {
  name: "coffer_lock_existing_balances",
  text: `SELECT 1 FROM user_wallet_balances
          WHERE (user_id, currency) IN (SELECT * FROM unnest($1::text[], $2::text[]))
          ORDER BY user_id COLLATE "C", currency COLLATE "C"
          FOR NO KEY UPDATE`,
};

/**
 * Sets the wallet's `pending_minor` memo to its uncaptured authorizations, creating the row (and
 * so locking it) if need be, in one prepared statement (src/db/prepared.ts): every credit runs it.
 * A row already right is locked and left alone, so its version (the ETag) does not move.
 */
export async function refreshPendingMinor(trx: Tx, userId: string, currency: string): Promise<void> {
  await prepared(trx, REFRESH_PENDING, [userId, currency]);
}

export const REFRESH_PENDING: Statement = {
  name: "coffer_refresh_pending",
  text: `INSERT INTO user_wallet_balances AS b (user_id, currency, pending_minor)
         SELECT $1, $2, coalesce(sum(amount_capturable_minor), 0)::bigint FROM payment_transactions
          WHERE user_id = $1 AND currency = $2 AND status = 'requires_capture'
         ON CONFLICT (user_id, currency) DO UPDATE
            SET pending_minor = EXCLUDED.pending_minor, version = b.version + 1, updated_at = now()
          WHERE b.pending_minor <> EXCLUDED.pending_minor`,
};

/** Whether the user's wallet has ever held `currency` (a balance row exists, even at zero). */
export async function hasBalanceRow(trx: Tx, userId: string, currency: string): Promise<boolean> {
  const row = await trx("user_wallet_balances").where({ user_id: userId, currency }).first("currency");
  return row !== undefined;
}

/** One currency in which the user's available balance is below zero, or null if none is. */
export async function negativeCurrency(trx: Tx, userId: string): Promise<string | null> {
  const row = await trx("user_wallet_balances")
    .where({ user_id: userId })
    .where("available_minor", "<", 0)
    .first("currency");
  return (row?.currency as string | undefined) ?? null;
}

/** A balance as the wallet shows it: with the part of available that Stripe still holds as pending. */
export interface WalletBalance extends BalanceRow {
  settling_minor: number;
}

/**
 * The user's balances, with `settling_minor` read beside them: it falls as the balance stream
 * stores Stripe's word that card funds are available, and the wallet's ETag (a hash of the body)
 * changes with it.
 */
export async function getBalances(trx: Tx, userId: string): Promise<WalletBalance[]> {
  const rows: BalanceRow[] = await trx("user_wallet_balances")
    .select("user_id", "currency", "available_minor", "pending_minor", "held_minor", "version")
    .where({ user_id: userId })
    .orderBy("currency");
  const unsettled = rows.length === 0 ? new Map() : await unsettledCredits(trx, userId);
  return rows.map((r) => ({
    ...r,
    settling_minor: settlingMinor(r.available_minor, unsettled.get(r.currency) ?? []),
  }));
}

/** Rebuilds one cached balance from its entries (legacy `recalculate_balance`); returns the corrected row. */
export async function recalculateBalance(trx: Tx, userId: string, currency: string): Promise<BalanceRow> {
  await lockBalances(trx, [{ userId, currency }]);
  const { rows } = await trx.raw<{ rows: BalanceRow[] }>(
    `UPDATE user_wallet_balances b
        SET available_minor = s.available, held_minor = s.held, version = version + 1, updated_at = now()
       FROM (SELECT coalesce(sum(amount_minor) FILTER (WHERE account = 'available'), 0)::bigint AS available,
                    coalesce(sum(amount_minor) FILTER (WHERE account = 'held'), 0)::bigint AS held
               FROM wallet_ledger WHERE user_id = ? AND currency = ?) s
      WHERE b.user_id = ? AND b.currency = ?
      RETURNING b.user_id, b.currency, b.available_minor, b.pending_minor, b.held_minor, b.version`,
    [userId, currency, userId, currency],
  );
  return rows[0]!;
}
