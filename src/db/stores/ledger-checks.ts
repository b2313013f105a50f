import type { InvariantReport, Violation } from "../../ledger/index.js";
import type { Tx } from "../knex.js";

/**
 * SPEC's ledger invariants over the whole book, in SQL so they scale with it.
 * Each query returns the offending rows only; an empty result is a pass.
 */
export async function checkInvariants(trx: Tx): Promise<InvariantReport> {
  const violations: Violation[] = [];

  const unbalanced = await trx.raw<{
    rows: Array<{ transaction_id: number; currency: string; sum: string }>;
  }>(
    `SELECT transaction_id, currency, sum(amount_minor)::text AS sum FROM wallet_ledger
      GROUP BY transaction_id, currency HAVING sum(amount_minor) <> 0`,
  );
  for (const r of unbalanced.rows) {
    violations.push({
      kind: "unbalanced_transaction",
      transactionId: String(r.transaction_id),
      currency: r.currency,
      sumMinor: r.sum,
    });
  }

  const short = await trx.raw<{ rows: Array<{ id: number; n: number }> }>(
    `SELECT t.id, count(e.id)::int AS n FROM wallet_ledger_transactions t
       LEFT JOIN wallet_ledger e ON e.transaction_id = t.id
      GROUP BY t.id HAVING count(e.id) < 2`,
  );
  for (const r of short.rows)
    violations.push({ kind: "short_transaction", transactionId: String(r.id), entries: r.n });

  // The unique index makes this impossible; checking it anyway proves the index is there.
  const dup = await trx.raw<{ rows: Array<{ idempotency_key: string; n: number }> }>(
    `SELECT idempotency_key, count(*)::int AS n FROM wallet_ledger_transactions GROUP BY 1 HAVING count(*) > 1`,
  );
  for (const r of dup.rows)
    violations.push({ kind: "duplicate_movement", key: r.idempotency_key, count: r.n });

  const cache = await trx.raw<{
    rows: Array<{ user_id: string; currency: string; bucket: string; cached: string; sum: string }>;
  }>(
    `WITH sums AS (
       SELECT user_id, currency,
              coalesce(sum(amount_minor) FILTER (WHERE account = 'available'), 0) AS available,
              coalesce(sum(amount_minor) FILTER (WHERE account = 'held'), 0) AS held
         FROM wallet_ledger WHERE user_id IS NOT NULL GROUP BY user_id, currency)
     SELECT coalesce(b.user_id, s.user_id) AS user_id, coalesce(b.currency, s.currency) AS currency, x.bucket,
            coalesce(x.cached::text, 'missing') AS cached, x.sum::text AS sum
       FROM user_wallet_balances b FULL JOIN sums s USING (user_id, currency)
      CROSS JOIN LATERAL (VALUES ('available', b.available_minor, coalesce(s.available, 0)),
                                 ('held', b.held_minor, coalesce(s.held, 0))) AS x(bucket, cached, sum)
      WHERE x.cached IS DISTINCT FROM x.sum`,
  );
  for (const r of cache.rows) {
    violations.push({
      kind: "balance_cache_mismatch",
      userId: r.user_id,
      currency: r.currency,
      bucket: r.bucket,
      cachedMinor: r.cached,
      entriesMinor: r.sum,
    });
  }

  // pending_minor is a memo of uncaptured authorizations; it must equal what the payments say.
  const pending = await trx.raw<{
    rows: Array<{ user_id: string; currency: string; cached: string; memo: string }>;
  }>(
    `SELECT b.user_id, b.currency, b.pending_minor::text AS cached, coalesce(p.memo, 0)::text AS memo
       FROM user_wallet_balances b
       LEFT JOIN (SELECT user_id, currency, sum(amount_capturable_minor) AS memo FROM payment_transactions
                   WHERE status = 'requires_capture' GROUP BY 1, 2) p USING (user_id, currency)
      WHERE b.pending_minor <> coalesce(p.memo, 0)`,
  );
  for (const r of pending.rows) {
    violations.push({
      kind: "pending_memo_mismatch",
      userId: r.user_id,
      currency: r.currency,
      cachedMinor: r.cached,
      memoMinor: r.memo,
    });
  }

  const negative = await trx.raw<{
    rows: Array<{ user_id: string; currency: string; available_minor: number }>;
  }>(
    `SELECT user_id, currency, available_minor FROM user_wallet_balances WHERE available_minor < 0 ORDER BY 1, 2`,
  );
  return {
    ok: violations.length === 0,
    violations,
    negativeBalances: negative.rows.map((r) => ({
      userId: r.user_id,
      currency: r.currency,
      availableMinor: String(r.available_minor),
    })),
  };
}
