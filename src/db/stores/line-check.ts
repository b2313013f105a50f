import type { Tx } from "../knex.js";

export interface LineCounts {
  currency: string;
  stripeMatched: number;
  stripeUnmatched: number;
  ledgerMatched: number;
  ledgerUnmatched: number;
}

/**
 * The line check, both ways, for one window. Each side is one statement that
 * writes its discrepancies with INSERT … SELECT and returns counts per currency,
 * so a day of 100,000 lines against 1,000,000 entries is joined by Postgres (and
 * spilled to disk if it must), never held in the worker's memory.
 *
 * Stripe side: a line in the window matches when every key it claims is posted
 * and those postings' `stripe` entries sum to −net. Ledger side: a posting in the
 * window that moved the `stripe` account matches when some line (of any day:
 * the event may be applied after midnight) claims it. The cut-over posting is
 * Stripe's pre-Coffer balance, which no line describes; the balance check covers it.
 */
export async function checkLines(trx: Tx, runId: string, from: Date, to: Date): Promise<LineCounts[]> {
  const fromS = Math.floor(from.getTime() / 1000);
  const toS = Math.floor(to.getTime() / 1000);
  const stripe = await trx.raw<{ rows: Array<{ currency: string; total: number; unmatched: number }> }>(
    `WITH w AS (
       SELECT b.id, b.type, b.currency, b.net_minor, b.unexplained,
              count(c.ledger_key)::int AS claims,
              array_remove(array_agg(CASE WHEN t.id IS NULL THEN c.ledger_key END), NULL) AS missing,
              coalesce(sum(s.amount), 0)::bigint AS ledger_minor
         FROM stripe_balance_transactions b
         LEFT JOIN stripe_balance_transaction_claims c ON c.balance_transaction_id = b.id
         LEFT JOIN wallet_ledger_transactions t ON t.idempotency_key = c.ledger_key
         LEFT JOIN LATERAL (SELECT sum(e.amount_minor) AS amount FROM wallet_ledger e
                             WHERE e.transaction_id = t.id AND e.account = 'stripe'
                               AND e.currency = b.currency) s ON true
        WHERE b.created >= ? AND b.created < ?
        GROUP BY b.id),
     bad AS (
       SELECT w.id, w.type, w.currency, w.net_minor, w.missing[1] AS key,
              CASE WHEN w.unexplained IS NOT NULL THEN w.unexplained
                   WHEN w.claims = 0 THEN 'no Coffer flow accounts for this ' || w.type
                   WHEN cardinality(w.missing) > 0 THEN
                     'no ledger posting ' || array_to_string(w.missing, ', ') ||
                     ': the event that books it has not been applied (see the run''s healed events)'
                   ELSE 'amounts differ: Stripe changed its balance by ' || w.net_minor ||
                        ', the ledger by ' || (-w.ledger_minor)
              END AS reason
         FROM w
        WHERE w.unexplained IS NOT NULL OR w.claims = 0 OR cardinality(w.missing) > 0
           OR w.ledger_minor <> -w.net_minor),
     ins AS (
       INSERT INTO reconciliation_discrepancies (run_id, side, stripe_id, ledger_key, type, amount_minor, currency, reason)
       SELECT ?, 'stripe', id, key, type, net_minor, currency, reason FROM bad)
     SELECT w.currency, count(*)::int AS total, count(bad.id)::int AS unmatched
       FROM w LEFT JOIN bad ON bad.id = w.id GROUP BY w.currency`,
    [fromS, toS, runId],
  );
  const ledger = await trx.raw<{ rows: Array<{ currency: string; total: number; unmatched: number }> }>(
    `WITH l AS (
       SELECT t.id, t.idempotency_key, t.kind, e.currency, sum(e.amount_minor)::bigint AS amount
         FROM wallet_ledger e JOIN wallet_ledger_transactions t ON t.id = e.transaction_id
        WHERE e.account = 'stripe' AND e.created_at >= ? AND e.created_at < ? AND t.kind <> 'opening_recorded'
        GROUP BY t.id, e.currency),
     bad AS (
       SELECT l.* FROM l WHERE NOT EXISTS
         (SELECT 1 FROM stripe_balance_transaction_claims c WHERE c.ledger_key = l.idempotency_key)),
     ins AS (
       INSERT INTO reconciliation_discrepancies
         (run_id, side, ledger_transaction_id, ledger_key, type, amount_minor, currency, reason)
       SELECT ?, 'ledger', id, idempotency_key, kind, -amount, currency,
              'the ledger booked ' || idempotency_key || ' but Stripe has no balance transaction for it: ' ||
              'look the object up in Stripe; if Stripe never moved the money, book a reversing posting'
         FROM bad)
     SELECT l.currency, count(*)::int AS total, count(bad.id)::int AS unmatched
       FROM l LEFT JOIN bad ON bad.id = l.id AND bad.currency = l.currency GROUP BY l.currency`,
    [from, to, runId],
  );
  const out = new Map<string, LineCounts>();
  const row = (currency: string) => {
    let r = out.get(currency);
    if (!r) {
      r = { currency, stripeMatched: 0, stripeUnmatched: 0, ledgerMatched: 0, ledgerUnmatched: 0 };
      out.set(currency, r);
    }
    return r;
  };
  for (const s of stripe.rows) {
    row(s.currency).stripeMatched = s.total - s.unmatched;
    row(s.currency).stripeUnmatched = s.unmatched;
  }
  for (const l of ledger.rows) {
    row(l.currency).ledgerMatched = l.total - l.unmatched;
    row(l.currency).ledgerUnmatched = l.unmatched;
  }
  return [...out.values()];
}

/** A run's findings are replaced, not added to, when it checks again after healing or a restart. */
export async function clearDiscrepancies(trx: Tx, runId: string): Promise<void> {
  await trx("reconciliation_discrepancies").where({ run_id: runId }).delete();
}

/** Stripe-side lines of a run that lack a posting: what a heal looks for in Stripe's events. */
export async function missingKeys(
  trx: Tx,
  runId: string,
): Promise<Array<{ stripe_id: string; ledger_key: string; created: number }>> {
  const { rows } = await trx.raw<{ rows: Array<{ stripe_id: string; ledger_key: string; created: number }> }>(
    `SELECT d.stripe_id, c.ledger_key, b.created
       FROM reconciliation_discrepancies d
       JOIN stripe_balance_transactions b ON b.id = d.stripe_id
       JOIN stripe_balance_transaction_claims c ON c.balance_transaction_id = d.stripe_id
      WHERE d.run_id = ? AND d.side = 'stripe'
        AND NOT EXISTS (SELECT 1 FROM wallet_ledger_transactions t WHERE t.idempotency_key = c.ledger_key)`,
    [runId],
  );
  return rows;
}
