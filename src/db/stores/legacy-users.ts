import type { Tx } from "../knex.js";

/**
 * The legacy float balances (SPEC → Legacy migration), read for the one-off import.
 * `users.wallet_balance` and `users.wallet_currency` are only ever read here; the
 * import writes `wallet_balance_minor` and the ledger, nothing else.
 */

export interface LegacyUser {
  id: string;
  /** The legacy double as pg parsed it; PG's float8 output round-trips, so this is the stored value. */
  walletBalance: number;
  /** As stored: null meant usd, and case is normalised by the caller, not here. */
  walletCurrency: string | null;
  /** What an earlier run wrote, so a rerun writes nothing it would not change. */
  walletBalanceMinor: number | null;
}

/**
 * One keyset page of users that have a legacy balance, after `afterId`.
 *
 * The `>` and the ORDER BY use the same collation, the column's own, so pages
 * never overlap or skip a user, and each page is a walk of the primary key
 * index (2 ms a page at 100,000 users). Asking for `COLLATE "C"` instead, as
 * `lockBalances` does for its locks, would be locale-independent but cannot use
 * that index: every page sorted the whole table (25 ms a page at 100,000 users,
 * and quadratic in the users overall). Nothing else depends on the page order.
 */
export async function readLegacyUsers(trx: Tx, afterId: string | null, limit: number): Promise<LegacyUser[]> {
  const { rows } = await trx.raw<{
    rows: Array<{
      id: string;
      wallet_balance: number;
      wallet_currency: string | null;
      wallet_balance_minor: number | null;
    }>;
  }>(
    `SELECT id, wallet_balance, wallet_currency, wallet_balance_minor FROM users
      WHERE wallet_balance IS NOT NULL AND (?::text IS NULL OR id > ?::text)
      ORDER BY id LIMIT ?`,
    [afterId, afterId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    walletBalance: r.wallet_balance,
    walletCurrency: r.wallet_currency,
    walletBalanceMinor: r.wallet_balance_minor,
  }));
}

/** Records each user's rounded balance (never the legacy columns). */
export async function writeWalletBalanceMinor(
  trx: Tx,
  values: ReadonlyArray<{ userId: string; minor: number }>,
): Promise<void> {
  if (values.length === 0) return;
  await trx.raw(
    `UPDATE users u SET wallet_balance_minor = x.minor
       FROM unnest(?::text[], ?::bigint[]) AS x(id, minor)
      WHERE u.id = x.id AND u.wallet_balance_minor IS DISTINCT FROM x.minor`,
    [values.map((v) => v.userId), values.map((v) => v.minor)],
  );
}

export interface VerifyItem {
  userId: string;
  currency: string;
  /** The user's legacy posting key (`legacy:<hash>:<currency>:opening`). */
  key: string;
  expectedMinor: number;
}

export interface VerifyMismatch {
  userId: string;
  currency: string;
  expectedMinor: string;
  /** What the legacy posting put on the user's available account (0 when there is none). */
  ledgerMinor: string;
  /** `users.wallet_balance_minor`, or null when it was never written. */
  columnMinor: string | null;
}

/**
 * The users among `items` whose ledger or `wallet_balance_minor` differs from the
 * rounded legacy balance. It sums the legacy posting's own entries, not the
 * user's whole balance, so activity since the import cannot hide or fake a
 * difference. Amounts come back as text: a mismatch is reported, never parsed.
 *
 * Both lookups are scalar subqueries, one index lookup per user, on purpose: as
 * joins, the planner of a freshly loaded table walked the (account, currency)
 * index for the entries (a second a page, growing with the ledger) and sorted
 * the whole `users` table to merge-join a page of 1,000 (170 ms a page).
 */
export async function legacyMismatches(
  trx: Tx,
  items: readonly VerifyItem[],
  opts: { checkColumn: boolean },
): Promise<VerifyMismatch[]> {
  if (items.length === 0) return [];
  const { rows } = await trx.raw<{
    rows: Array<{ user_id: string; currency: string; expected: string; ledger: string; col: string | null }>;
  }>(
    `SELECT user_id, currency, expected::text AS expected, ledger::text AS ledger, col::text AS col
       FROM (SELECT x.*,
                    coalesce((SELECT sum(e.amount_minor) FILTER (
                                       WHERE e.account = 'available' AND e.user_id = x.user_id
                                         AND e.currency = x.currency)
                                FROM wallet_ledger_transactions t JOIN wallet_ledger e ON e.transaction_id = t.id
                               WHERE t.idempotency_key = x.key), 0) AS ledger,
                    (SELECT wallet_balance_minor FROM users WHERE id = x.user_id) AS col
               FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[]) AS x(user_id, currency, key, expected)) v
      WHERE ledger <> expected OR (?::boolean AND col IS DISTINCT FROM expected)
      ORDER BY user_id`,
    [
      items.map((i) => i.userId),
      items.map((i) => i.currency),
      items.map((i) => i.key),
      items.map((i) => i.expectedMinor),
      opts.checkColumn,
    ],
  );
  return rows.map((r) => ({
    userId: r.user_id,
    currency: r.currency,
    expectedMinor: r.expected,
    ledgerMinor: r.ledger,
    columnMinor: r.col,
  }));
}
