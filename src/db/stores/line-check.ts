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
 * Stripe side: a group of lines in the window (src/ledger/claims.ts) matches when
 * every key it claims is posted and those postings' `stripe` entries sum to −net. Ledger side: a posting in the
 * window that moved the `stripe` (or `fx`) account matches when some line (of any day:
 * the event may be applied after midnight) claims it. The cut-over posting is
 * Stripe's pre-Coffer balance, which no line describes; the balance check covers it.
 */
/**
 * Where a run's view of both sides ends, inside its window: lines created up to `linesUpToS`
 * (Stripe's clock; the stream listed all of them that existed when it began) and postings
 * stamped before `postingsBefore` (the database's clock, read before the stream's first page,
 * so their lines were listed). Past that, a line may be mirrored while its event is still on
 * the way, and a posting may be for a line the stream never listed: checking them would report
 * traffic, not a difference. A later run, whose window holds them, checks them.
 */
export interface LineCut {
  linesUpToS: number;
  postingsBefore: Date;
}

export async function checkLines(
  trx: Tx,
  runId: string,
  from: Date,
  to: Date,
  cut: LineCut,
): Promise<LineCounts[]> {
  const fromS = Math.floor(from.getTime() / 1000);
  const toS = Math.min(Math.floor(to.getTime() / 1000), cut.linesUpToS + 1);
  const postingsTo = new Date(Math.min(to.getTime(), cut.postingsBefore.getTime()));
  const stripe = await trx.raw<{ rows: Array<{ currency: string; total: number; unmatched: number }> }>(
    `WITH lines AS (
       -- Every line of each group the window touches: a refund on day 1 that failed on day 3 is one group.
       SELECT b.*, (b.created >= ? AND b.created < ?) AS in_window FROM stripe_balance_transactions b
        WHERE b.match_group IN (SELECT match_group FROM stripe_balance_transactions
                                 WHERE created >= ? AND created < ?)),
     claimed AS (
       SELECT l.match_group, l.currency, c.ledger_key, t.id AS transaction_id
         FROM lines l
         JOIN stripe_balance_transaction_claims c ON c.balance_transaction_id = l.id
         LEFT JOIN wallet_ledger_transactions t ON t.idempotency_key = c.ledger_key),
     ledger AS (
       SELECT c.match_group, count(*)::int AS claims,
              array_remove(array_agg(CASE WHEN c.transaction_id IS NULL THEN c.ledger_key END), NULL) AS missing,
              coalesce(sum(s.amount), 0)::bigint AS ledger_minor
         FROM claimed c
         LEFT JOIN LATERAL (SELECT sum(e.amount_minor) AS amount FROM wallet_ledger e
                             WHERE e.transaction_id = c.transaction_id AND e.account = 'stripe'
                               AND e.currency = c.currency) s ON true
        GROUP BY c.match_group),
     grp AS (
       SELECT l.match_group, min(l.id) AS id, string_agg(DISTINCT l.type, '+') AS type, min(l.currency) AS currency,
              sum(l.net_minor)::bigint AS net_minor, (count(*) FILTER (WHERE l.in_window))::int AS lines,
              max(l.unexplained) AS unexplained,
              coalesce(max(g.claims), 0) AS claims, coalesce(max(g.missing), '{}') AS missing,
              coalesce(max(g.ledger_minor), 0)::bigint AS ledger_minor
         FROM lines l LEFT JOIN ledger g ON g.match_group = l.match_group
        GROUP BY l.match_group),
     bad AS (
       SELECT grp.*,
              CASE WHEN unexplained IS NOT NULL THEN unexplained
                   WHEN claims = 0 THEN 'no Coffer flow accounts for this ' || type
                   WHEN cardinality(missing) > 0 AND ledger_minor <> -net_minor THEN
                     'no ledger posting ' || array_to_string(missing, ', ') ||
                     ': the event that books it has not been applied (see the run''s healed events)'
                   ELSE 'amounts differ: Stripe changed its balance by ' || net_minor ||
                        ', the ledger by ' || (-ledger_minor)
              END AS reason
         FROM grp
        -- A group may lack postings only where Stripe netted to zero and so did the ledger: a refund
        -- that had failed before Coffer saw it (converted, its two fx bookings cancel out).
        WHERE unexplained IS NOT NULL OR claims = 0 OR ledger_minor <> -net_minor
           OR (cardinality(missing) > 0
               AND NOT (match_group LIKE 'refund:%' AND net_minor = 0 AND ledger_minor = 0))),
     ins AS (
       INSERT INTO reconciliation_discrepancies (run_id, side, stripe_id, ledger_key, type, amount_minor, currency, reason)
       SELECT ?, 'stripe', id, missing[1], type, net_minor, currency, reason FROM bad)
     SELECT grp.currency, sum(grp.lines)::int AS total,
            coalesce(sum(grp.lines) FILTER (WHERE bad.id IS NOT NULL), 0)::int AS unmatched
       FROM grp LEFT JOIN bad ON bad.id = grp.id GROUP BY grp.currency`,
    [fromS, toS, fromS, toS, runId],
  );
  const ledger = await trx.raw<{ rows: Array<{ currency: string; total: number; unmatched: number }> }>(
    `WITH l AS (
       -- Postings that moved money at Stripe, directly or through fx; by the indexed created_at.
       SELECT t.id, t.idempotency_key, t.kind, e.currency, sum(e.amount_minor)::bigint AS amount
         FROM wallet_ledger_transactions t JOIN wallet_ledger e ON e.transaction_id = t.id
        WHERE t.created_at >= ? AND t.created_at < ? AND t.kind <> 'opening_recorded'
          AND e.account IN ('stripe', 'fx')
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
    [from, postingsTo, runId],
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

/** The run's discrepancies for lines that lack a posting, by the first key they lack. */
export async function missingPostingDiscrepancies(
  trx: Tx,
  runId: string,
): Promise<Array<{ id: string; ledger_key: string }>> {
  const { rows } = await trx.raw<{ rows: Array<{ id: string; ledger_key: string }> }>(
    `SELECT id::text, ledger_key FROM reconciliation_discrepancies
      WHERE run_id = ? AND side = 'stripe' AND ledger_key IS NOT NULL AND reason LIKE 'no ledger posting %'`,
    [runId],
  );
  return rows;
}

export async function setDiscrepancyReasons(
  trx: Tx,
  reasons: ReadonlyArray<{ id: string; reason: string }>,
): Promise<void> {
  if (reasons.length === 0) return;
  await trx.raw(
    `UPDATE reconciliation_discrepancies d SET reason = r.reason
       FROM unnest(?::bigint[], ?::text[]) AS r (id, reason) WHERE d.id = r.id`,
    [reasons.map((r) => r.id), reasons.map((r) => r.reason)],
  );
}

/** Stripe-side lines of a run that lack a posting: what a heal looks for in Stripe's events. */
export async function missingKeys(
  trx: Tx,
  runId: string,
): Promise<Array<{ stripe_id: string; ledger_key: string; created: number }>> {
  const { rows } = await trx.raw<{ rows: Array<{ stripe_id: string; ledger_key: string; created: number }> }>(
    `SELECT d.stripe_id, c.ledger_key, b.created
       FROM reconciliation_discrepancies d
       JOIN stripe_balance_transactions first ON first.id = d.stripe_id
       JOIN stripe_balance_transactions b ON b.match_group = first.match_group
       JOIN stripe_balance_transaction_claims c ON c.balance_transaction_id = b.id
      WHERE d.run_id = ? AND d.side = 'stripe'
        AND NOT EXISTS (SELECT 1 FROM wallet_ledger_transactions t WHERE t.idempotency_key = c.ledger_key)`,
    [runId],
  );
  return rows;
}

/**
 * Charge lines of a run flagged because their PaymentIntent is neither a Coffer top-up nor a
 * known invoice payment. A subscription invoice's charge looks like that until its
 * `invoice_payment.paid` is applied (a Charge no longer names its invoice), so a heal looks for
 * that event by PaymentIntent.
 */
export async function unknownPayments(
  trx: Tx,
  runId: string,
): Promise<Array<{ payment_intent_id: string; created: number }>> {
  const { rows } = await trx.raw<{ rows: Array<{ payment_intent_id: string; created: number }> }>(
    `SELECT b.payment_intent_id, min(b.created)::bigint AS created
       FROM reconciliation_discrepancies d
       JOIN stripe_balance_transactions b ON b.id = d.stripe_id
      WHERE d.run_id = ? AND d.side = 'stripe' AND b.type IN ('charge', 'payment')
        AND b.unexplained IS NOT NULL AND b.payment_intent_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM payment_transactions p
                         WHERE p.payment_intent_id = b.payment_intent_id AND p.purpose = 'wallet_top_up')
        AND NOT EXISTS (SELECT 1 FROM invoice_payments i WHERE i.payment_intent_id = b.payment_intent_id)
      GROUP BY b.payment_intent_id`,
    [runId],
  );
  return rows.map((r) => ({ payment_intent_id: r.payment_intent_id, created: Number(r.created) }));
}
