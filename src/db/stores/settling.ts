import type { UnsettledCredit } from "../../ledger/settling.js";
import type { Db, Tx } from "../knex.js";

/**
 * Settling funds (src/ledger/settling.ts has the rule): per currency, the user's card credits
 * that Stripe has not made available yet, each less the forced debits on its own payment.
 *
 * - A credit is matched to its charge line by the claim key (`pi_…:captured`), never by
 *   currency: a converted charge's line is in the settlement currency, its credit in the
 *   charge's, and the line's `available_on` is what counts.
 * - No claim row yet means the stream has not seen the line: `available_on` is null, settling.
 * - Forced debits are the user's `available` entries of the payment's refunds and disputes,
 *   signed, so a failed refund or a won dispute gives back what it took.
 *
 * `now` is unix seconds; only credits still unsettled at `now` come back, so the work is the
 * user's card credits by index plus a few lookups each.
 */
const UNSETTLED = (userFilter: string) => `
  WITH credits AS (
    SELECT e.user_id, t.source_id AS pi, e.currency, e.amount_minor AS credit,
           (SELECT max(bt.available_on)
              FROM stripe_balance_transaction_claims cl
              JOIN stripe_balance_transactions bt ON bt.id = cl.balance_transaction_id
             WHERE cl.ledger_key = t.idempotency_key) AS available_on
      FROM wallet_ledger e
      JOIN wallet_ledger_transactions t ON t.id = e.transaction_id
     WHERE ${userFilter} AND e.account = 'available' AND t.kind = 'payment_captured'
  )
  SELECT c.user_id, c.currency, c.available_on,
         greatest(0, c.credit + coalesce((
           SELECT sum(d.amount_minor)
             FROM wallet_ledger_transactions dt
             JOIN wallet_ledger d ON d.transaction_id = dt.id AND d.account = 'available' AND d.user_id = c.user_id
            WHERE dt.kind IN ('refund', 'refund_reversed', 'dispute_opened', 'dispute_won', 'dispute_released')
              AND dt.source_id IN (SELECT id FROM stripe_refunds WHERE payment_intent_id = c.pi
                                   UNION ALL
                                   SELECT id FROM stripe_disputes
                                    WHERE payment_intent_id = c.pi AND user_id = c.user_id)
         ), 0))::bigint AS remaining_minor
    FROM credits c
   WHERE c.available_on IS NULL OR c.available_on > ?`; // bindings: the user filter's, then now

export async function unsettledCredits(
  trx: Tx,
  userId: string,
  now: number,
  currencies?: readonly string[],
): Promise<Map<string, UnsettledCredit[]>> {
  const only = currencies ? [...currencies] : null;
  const { rows } = await trx.raw<{
    rows: Array<{ currency: string; available_on: number | null; remaining_minor: number }>;
  }>(UNSETTLED(`e.user_id = ? AND (?::text[] IS NULL OR e.currency = ANY(?::text[]))`), [
    userId,
    only,
    only,
    now,
  ]);
  const out = new Map<string, UnsettledCredit[]>();
  for (const r of rows) {
    const list = out.get(r.currency) ?? [];
    list.push({ remainingMinor: r.remaining_minor, availableOn: r.available_on });
    out.set(r.currency, list);
  }
  return out;
}

/**
 * Settling funds across all wallets, per currency (the metric): each wallet's settling clamped
 * to its available balance, as the wallet shows it, then summed. It reads every card credit, so
 * it runs under a statement timeout: a scrape must never hold a connection for long.
 */
export async function settlingTotals(
  db: Db,
  now: number,
): Promise<Array<{ currency: string; settling_minor: number }>> {
  return db.transaction(async (trx) => {
    await trx.raw("SET LOCAL statement_timeout = 2000");
    const { rows } = await trx.raw<{ rows: Array<{ currency: string; settling_minor: number }> }>(
      `WITH unsettled AS (${UNSETTLED("TRUE")}),
            per_wallet AS (SELECT user_id, currency, sum(remaining_minor) AS settling
                             FROM unsettled GROUP BY user_id, currency)
       SELECT w.currency, sum(least(w.settling, greatest(b.available_minor, 0)))::bigint AS settling_minor
         FROM per_wallet w
         JOIN user_wallet_balances b ON b.user_id = w.user_id AND b.currency = w.currency
        GROUP BY w.currency ORDER BY w.currency`,
      [now],
    );
    return rows;
  });
}
