import type { BalanceTxn } from "../../ledger/claims.js";
import type { Tx } from "../knex.js";
import { recordSettledPayments } from "./settling.js";

/** The mirror of Stripe's balance transactions, their claims, and the stream's cursor. */

export const BALANCE_CURSOR = "balance_transactions";

export interface StoredLine extends BalanceTxn {
  status: string;
  created: number;
  availableOn: number;
  group: string;
  unexplained: string | null;
  claims: string[];
}

/** Every balance transaction created before this (unix seconds) has been read; 0 before the first read. */
export async function readCursor(trx: Tx, name = BALANCE_CURSOR): Promise<number> {
  const row = await trx("reconciliation_cursors").where({ name }).first<{ created: number } | undefined>();
  return row?.created ?? 0;
}

/** Milliseconds since any reader last moved the cursor (Infinity before the first read). */
export async function cursorAgeMs(trx: Tx, name = BALANCE_CURSOR): Promise<number> {
  const { rows } = await trx.raw<{ rows: Array<{ age_ms: number }> }>(
    `SELECT extract(epoch FROM now() - updated_at)::float8 * 1000 AS age_ms FROM reconciliation_cursors WHERE name = ?`,
    [name],
  );
  return rows[0]?.age_ms ?? Infinity;
}

/**
 * Moves forward only: a slow run that started earlier never drags the cursor back. The pass
 * that moved it is over, so what was kept to resume it is cleared.
 */
export async function advanceCursor(trx: Tx, created: number, name = BALANCE_CURSOR): Promise<void> {
  await trx.raw(
    `INSERT INTO reconciliation_cursors (name, created) VALUES (?, ?)
     ON CONFLICT (name) DO UPDATE SET created = greatest(reconciliation_cursors.created, excluded.created),
                                      updated_at = now(), pass_since = NULL, pass_after = NULL,
                                      pass_newest = NULL, pass_listed = NULL, pass_started_at = NULL`,
    [name, created],
  );
}

/**
 * A pass cut short, as its last saved page left it (migrations/20261207000100_stream_pass_resume.ts):
 * go on after `after`, with the cut and the start it had.
 */
export interface PassState {
  since: number;
  after: string;
  newest: number;
  listed: string[];
  startedAt: Date;
}

export async function readPass(trx: Tx, name = BALANCE_CURSOR): Promise<PassState | null> {
  const row = await trx("reconciliation_cursors").where({ name }).whereNotNull("pass_after").first<
    | {
        pass_since: string;
        pass_after: string;
        pass_newest: string;
        pass_listed: string[];
        pass_started_at: Date;
      }
    | undefined
  >();
  if (!row) return null;
  return {
    since: Number(row.pass_since),
    after: row.pass_after,
    newest: Number(row.pass_newest),
    listed: row.pass_listed,
    startedAt: row.pass_started_at,
  };
}

/**
 * Saved with each page, in its transaction. Neither the cursor nor `updated_at` moves: only a
 * pass's end says every line before it was read (a new row is dated at the epoch, so that the
 * followers' "read less than a minute ago" does not take a pass begun as one that ended).
 */
export async function savePass(trx: Tx, p: PassState, name = BALANCE_CURSOR): Promise<void> {
  await trx.raw(
    `INSERT INTO reconciliation_cursors
       (name, created, updated_at, pass_since, pass_after, pass_newest, pass_listed, pass_started_at)
     VALUES (?, 0, 'epoch', ?, ?, ?, ?::text[], ?)
     ON CONFLICT (name) DO UPDATE SET pass_since = excluded.pass_since, pass_after = excluded.pass_after,
       pass_newest = excluded.pass_newest, pass_listed = excluded.pass_listed,
       pass_started_at = excluded.pass_started_at`,
    [name, p.since, p.after, p.newest, p.listed, p.startedAt],
  );
}

/**
 * One page of lines in three statements. A line seen again updates only what Stripe
 * changes on it (status), so re-reading a window after a crash is harmless.
 */
export async function saveLines(trx: Tx, lines: readonly StoredLine[]): Promise<void> {
  if (lines.length === 0) return;
  const col = <K extends keyof StoredLine>(k: K) => lines.map((l) => l[k]) as string[];
  await trx.raw(
    `INSERT INTO stripe_balance_transactions
       (id, type, reporting_category, source_id, amount_minor, fee_minor, net_minor, currency,
        exchange_rate, status, created, available_on, match_group, unexplained, payment_intent_id)
     SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[],
                          ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[],
                          ?::text[])
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, available_on = excluded.available_on,
                                    unexplained = excluded.unexplained,
                                    payment_intent_id = excluded.payment_intent_id`,
    [
      col("id"),
      col("type"),
      col("reportingCategory"),
      col("sourceId"),
      col("amountMinor"),
      col("feeMinor"),
      col("netMinor"),
      col("currency"),
      lines.map((l) => (l.exchangeRate === null ? null : String(l.exchangeRate))) as string[],
      col("status"),
      col("created"),
      col("availableOn"),
      col("group"),
      col("unexplained"),
      col("paymentIntentId"),
    ],
  );
  const ids = lines.flatMap((l) => l.claims.map(() => l.id));
  const keys = lines.flatMap((l) => l.claims);
  if (keys.length > 0) {
    await trx.raw(
      `INSERT INTO stripe_balance_transaction_claims (balance_transaction_id, ledger_key)
       SELECT * FROM unnest(?::text[], ?::text[]) ON CONFLICT DO NOTHING`,
      [ids, keys],
    );
  }
  // In the same transaction as the lines: the settling metric's index must never call a credit
  // settled that the rule does not (src/db/stores/settling.ts).
  await recordSettledPayments(
    trx,
    lines.map((l) => l.id),
  );
}

/** Which of these PaymentIntents are Coffer top-ups: only their fees and conversions are Coffer's to book. */
export async function topUpPaymentIntents(trx: Tx, piIds: readonly string[]): Promise<Set<string>> {
  if (piIds.length === 0) return new Set();
  const { rows } = await trx.raw<{ rows: Array<{ payment_intent_id: string }> }>(
    `SELECT payment_intent_id FROM payment_transactions
      WHERE payment_intent_id = ANY(?::text[]) AND purpose = 'wallet_top_up'`,
    [[...piIds]],
  );
  return new Set(rows.map((r) => r.payment_intent_id));
}

/**
 * When Coffer's books began (unix seconds): the cut-over, or an hour before the first posting
 * (a charge precedes its credit). Lines older than this are the legacy system's money, which
 * the opening balance holds: booking their fees or payouts again would count them twice.
 * Before any posting, every line is older.
 */
export async function booksBegan(trx: Tx): Promise<number> {
  const { rows } = await trx.raw<{ rows: Array<{ began: number | null }> }>(
    `SELECT floor(extract(epoch FROM least(
              (SELECT min(created_at) FROM wallet_ledger_transactions WHERE kind = 'opening_recorded'),
              (SELECT min(created_at) FROM wallet_ledger_transactions WHERE kind <> 'opening_recorded')
                - interval '1 hour')))::bigint AS began`,
  );
  return rows[0]?.began ?? Number.MAX_SAFE_INTEGER;
}

/** Withdrawals by the transfer that paid them: how a reversal without our metadata finds its withdrawal. */
export async function withdrawalsByTransfer(
  trx: Tx,
  transferIds: readonly string[],
): Promise<Map<string, string>> {
  if (transferIds.length === 0) return new Map();
  const { rows } = await trx.raw<{ rows: Array<{ id: string; transfer_id: string }> }>(
    `SELECT id, transfer_id FROM withdrawal_requests WHERE transfer_id = ANY(?::text[])`,
    [[...transferIds]],
  );
  return new Map(rows.map((r) => [r.transfer_id, r.id]));
}

/** A line Coffer holds as pending whose `available_on` has come: Stripe must be asked again. */
export interface DueLine {
  id: string;
  type: string;
  created: number;
}

/**
 * Pending lines whose `available_on` is at or before `now` and that were not read since it came
 * (or, when Stripe still showed them pending, not for `backoffS`), newest first, at most `limit`.
 * The partial index on pending lines keeps this off the settled ones.
 */
export async function dueLines(trx: Tx, now: number, limit: number, backoffS: number): Promise<DueLine[]> {
  const { rows } = await trx.raw<{ rows: DueLine[] }>(
    `SELECT id, type, created FROM stripe_balance_transactions
      WHERE status = 'pending' AND available_on <= ?
        AND coalesce(checked_at, 0) < greatest(available_on, ?)
      ORDER BY created DESC, id DESC LIMIT ?`,
    [now, now - backoffS, limit],
  );
  return rows;
}

/**
 * What Stripe says now of lines already mirrored (status and `available_on`, the two fields it
 * changes), with the moment they were read. Lines not mirrored yet are left to the stream, which
 * stores them with their claims.
 */
export async function refreshLines(
  trx: Tx,
  lines: ReadonlyArray<{ id: string; status: string; availableOn: number }>,
  checkedAt: number,
): Promise<number> {
  if (lines.length === 0) return 0;
  // One transaction with the top-ups' `settled_at` (saveLines says why); a savepoint when the
  // caller already holds one.
  return trx.transaction(async (t) => {
    const result = await t.raw<{ rowCount: number }>(
      `UPDATE stripe_balance_transactions bt
          SET status = u.status, available_on = u.available_on, checked_at = ?
         FROM unnest(?::text[], ?::text[], ?::bigint[]) AS u(id, status, available_on)
        WHERE bt.id = u.id`,
      [checkedAt, lines.map((l) => l.id), lines.map((l) => l.status), lines.map((l) => l.availableOn)],
    );
    await recordSettledPayments(
      t,
      lines.map((l) => l.id),
    );
    return result.rowCount;
  });
}

/**
 * Charge lines of a PaymentIntent that the stream could not explain when it read them: the
 * invoice's payment was not known yet. Returned as the stream stored them, with what it took from
 * Stripe, for the rule to be applied again now that it is (reconcile-reclaim.ts).
 */
export async function unexplainedLinesOf(trx: Tx, piId: string): Promise<StoredLine[]> {
  const { rows } = await trx.raw<{ rows: Array<Record<string, string | null>> }>(
    `SELECT id, type, reporting_category, source_id, amount_minor, fee_minor, net_minor, currency,
            exchange_rate, status, created, available_on, match_group
       FROM stripe_balance_transactions
      WHERE payment_intent_id = ? AND unexplained IS NOT NULL
      FOR UPDATE`,
    [piId],
  );
  return rows.map((r) => ({
    id: r.id!,
    type: r.type!,
    reportingCategory: r.reporting_category!,
    sourceId: r.source_id ?? null,
    amountMinor: Number(r.amount_minor),
    feeMinor: Number(r.fee_minor),
    netMinor: Number(r.net_minor),
    currency: r.currency as StoredLine["currency"],
    exchangeRate: r.exchange_rate === null ? null : Number(r.exchange_rate),
    paymentIntentId: piId,
    withdrawalId: null,
    paymentIsTopUp: false,
    invoiceId: null,
    beforeBooks: false,
    status: r.status!,
    created: Number(r.created),
    availableOn: Number(r.available_on),
    group: r.match_group!,
    unexplained: null,
    claims: [],
  }));
}
