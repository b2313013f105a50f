import type { UnsettledCredit } from "../../ledger/settling.js";
import type { Db, Tx } from "../knex.js";

/**
 * Settling funds (src/ledger/settling.ts has the rule): per currency, the user's card credits
 * that Stripe has not made available yet, each at its full credited amount (a refund or dispute
 * lowers `available`, not what is settling: Stripe takes those from its available balance).
 *
 * - A credit is matched to its charge line by the claim key (`pi_…:captured`), never by
 *   currency: a converted charge's line is in the settlement currency, its credit in the
 *   charge's, and the line's status is what counts.
 * - Settled means the mirror holds Stripe's word that the line is `available`. No claim row yet
 *   (the stream has not seen the line) or a `pending` line, even one whose `available_on` has
 *   passed, is unsettled: the date comes back with it, as the forecast of when it settles.
 *
 * The work is the user's card credits, found by an index of positive `available` entries alone
 * (migration 20261203000110), plus one claim lookup each: a hot wallet's thousands of withdrawal
 * holds are never read under its row lock. A card credit is always such an entry (money moves
 * stripe → user.available), so the index misses none. The metric, across all wallets, finds its
 * credits from the other side instead: the top-ups not yet seen settled (settlingTotals).
 */
const UNSETTLED = (credits: string, filter: string) => `
  SELECT e.user_id, e.currency, e.amount_minor, line.available_on
    FROM ${credits}
   CROSS JOIN LATERAL (${LINES_OF("t.idempotency_key")}) line
   WHERE ${filter} AND e.account = 'available' AND e.amount_minor > 0 AND t.kind = 'payment_captured'
     AND line.settled IS NOT TRUE`;

/**
 * The rule's one spelling in SQL: a credit is settled once every line that claims its posting key
 * is available (`settled`; NULL while no line claims it), and `available_on` is the latest date
 * among them. The wallet's query and the metric's `settled_at` both read it from here.
 *
 * Each claim's line is fetched by its primary key, fenced (`OFFSET 0`) so the planner cannot turn
 * it into a join over all lines: a key has one or two claims, but on statistics taken before a
 * day's lines arrived the planner could hash the whole mirror for every key (a page of 100 lines
 * read 3,020,000 of them in one measurement; test/settled-page-query.test.ts keeps it to the page's).
 */
const LINES_OF = (key: string) => `
  SELECT max(bt.available_on) AS available_on, bool_and(bt.status = 'available') AS settled
    FROM stripe_balance_transaction_claims cl
    CROSS JOIN LATERAL (SELECT b.available_on, b.status FROM stripe_balance_transactions b
                         WHERE b.id = cl.balance_transaction_id OFFSET 0) bt
   WHERE cl.ledger_key = ${key}`;

/** A wallet's credits: its entries, by the credits index. */
const LEDGER_CREDITS = `wallet_ledger e JOIN wallet_ledger_transactions t ON t.id = e.transaction_id`;

/**
 * The index's key, spelled exactly as migration 20261203000110 does: matching on it (rather than
 * on user_id) gives the planner the index's own statistics, so a hot wallet whose holds make its
 * user common in the table is still planned as the few credits it has.
 */
const CREDIT_OWNER = `(CASE WHEN e.account = 'available' AND e.amount_minor > 0 THEN e.user_id END)`;

export async function unsettledCredits(
  trx: Tx,
  userId: string,
  currencies?: readonly string[],
): Promise<Map<string, UnsettledCredit[]>> {
  const only = currencies ? [...currencies] : null;
  const { rows } = await trx.raw<{
    rows: Array<{ currency: string; available_on: number | null; amount_minor: number }>;
  }>(
    UNSETTLED(LEDGER_CREDITS, `${CREDIT_OWNER} = ? AND (?::text[] IS NULL OR e.currency = ANY(?::text[]))`),
    [userId, only, only],
  );
  const out = new Map<string, UnsettledCredit[]>();
  for (const r of rows) {
    const list = out.get(r.currency) ?? [];
    list.push({ amountMinor: r.amount_minor, availableOn: r.available_on });
    out.set(r.currency, list);
  }
  return out;
}

/**
 * The credits that may still be settling, across all wallets: a credited top-up whose row has no
 * `settled_at`, by the partial index that holds only those (migration 20261205000100). A settled
 * credit's row has left the index, so nothing of its history (entries, claims, lines) is read,
 * however many there are. The rule is still applied to each: the index only finds them.
 */
const CANDIDATE_CREDITS = `payment_transactions p
    JOIN wallet_ledger_transactions t ON t.idempotency_key = p.payment_intent_id || ':captured'
    JOIN wallet_ledger e ON e.transaction_id = t.id`;
const CANDIDATE = `p.purpose = 'wallet_top_up' AND p.status = 'succeeded' AND p.settled_at IS NULL`;

/** The metric's statement, exported so a test can EXPLAIN what it reads. */
export const SETTLING_TOTALS_SQL = `WITH unsettled AS (${UNSETTLED(CANDIDATE_CREDITS, CANDIDATE)}),
      per_wallet AS (SELECT user_id, currency, sum(amount_minor) AS settling
                       FROM unsettled GROUP BY user_id, currency)
 SELECT w.currency, sum(least(w.settling, greatest(b.available_minor, 0)))::bigint AS settling_minor
   FROM per_wallet w
   JOIN user_wallet_balances b ON b.user_id = w.user_id AND b.currency = w.currency
  GROUP BY w.currency ORDER BY w.currency`;

/**
 * Settling funds across all wallets, per currency (the metric): each wallet's settling clamped
 * to its available balance, as the wallet shows it, then summed. It reads only the credits that
 * may still be settling (CANDIDATE_CREDITS), and still runs under a statement timeout: a scrape
 * must never hold a connection for long.
 *
 * It equals the sum of what the wallets show because every card credit is posted in the same
 * transaction that marks its top-up `succeeded` (src/flows/payment-intent.ts), and `settled_at`
 * is set only where the rule says settled (recordSettledPayments).
 */
export async function settlingTotals(db: Db): Promise<Array<{ currency: string; settling_minor: number }>> {
  return db.transaction(async (trx) => {
    await trx.raw("SET LOCAL statement_timeout = 2000");
    const { rows } = await trx.raw<{ rows: Array<{ currency: string; settling_minor: number }> }>(
      SETTLING_TOTALS_SQL,
    );
    return rows;
  });
}

/**
 * Keeps each top-up's `settled_at` equal to the rule after lines or claims were written (by
 * saveLines and refreshLines, the only writers of either): set when every line that claims its
 * `pi_…:captured` is available, cleared when one is not (Stripe moved it back, or a new line
 * claims the key). Only rows whose answer changed are written, so re-reading a window is cheap.
 */
export async function recordSettledPayments(trx: Tx, lineIds: readonly string[]): Promise<void> {
  if (lineIds.length === 0) return;
  await trx.raw(RECORD_SETTLED_SQL, [[...lineIds]]);
}

/**
 * Run for every page the stream saves, so its cost must not grow with the tables. A first
 * reconciliation writes a day's 100,000 lines long before autovacuum analyses the mirror, and on
 * the statistics of its empty tables this statement was planned as joins over all of it (every
 * claim materialized and compared with each of the page's ids, every line hashed for each key):
 * minutes for the day. So the page's claims are looked up by its ids, and each claim's line by its
 * key (LINES_OF), each lookup fenced (`OFFSET 0`) so that it is planned on its own, as one index
 * probe, and not folded into a join that a stale estimate of the tables' sizes can make a scan.
 */
export const RECORD_SETTLED_SQL = `
  WITH keys AS (
    SELECT DISTINCT c.ledger_key
      FROM unnest(?::text[]) AS page (id)
      CROSS JOIN LATERAL (SELECT cl.ledger_key FROM stripe_balance_transaction_claims cl
                           WHERE cl.balance_transaction_id = page.id AND cl.ledger_key LIKE '%:captured'
                          OFFSET 0) c),
  rule AS (
    SELECT left(k.ledger_key, -length(':captured')) AS pi, line.settled
      FROM keys k CROSS JOIN LATERAL (${LINES_OF("k.ledger_key")}) line)
  UPDATE payment_transactions p
     SET settled_at = CASE WHEN rule.settled THEN extract(epoch FROM now())::bigint END
    FROM rule
   WHERE p.payment_intent_id = rule.pi AND p.purpose = 'wallet_top_up'
     AND (p.settled_at IS NULL) = rule.settled`;
