import { settlingAt } from "../../ledger/settling.js";
import type { Tx } from "../knex.js";
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

/** A balance as the wallet shows it: with the part of available that Stripe still holds as pending. */
export interface WalletBalance extends BalanceRow {
  settling_minor: number;
}

/**
 * The user's balances, with `settling_minor` worked out against `now` (unix seconds) at read
 * time: funds settle by the clock alone, and the wallet's ETag (a hash of the body) changes
 * with them.
 */
export async function getBalances(
  trx: Tx,
  userId: string,
  now = Math.floor(Date.now() / 1000),
): Promise<WalletBalance[]> {
  const rows: BalanceRow[] = await trx("user_wallet_balances")
    .select("user_id", "currency", "available_minor", "pending_minor", "held_minor", "version")
    .where({ user_id: userId })
    .orderBy("currency");
  const unsettled = rows.length === 0 ? new Map() : await unsettledCredits(trx, userId, now);
  return rows.map((r) => ({
    ...r,
    settling_minor: settlingAt(r.available_minor, unsettled.get(r.currency) ?? [], now),
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
