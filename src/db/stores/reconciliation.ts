import type { Tx } from "../knex.js";

/** Reconciliation runs, their discrepancies and the per-currency snapshots. */

export const RUN_STATUSES = ["queued", "running", "matched", "mismatch", "failed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const RUN_TRIGGERS = ["schedule", "admin", "cli"] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export interface HealedEvent {
  event_id: string;
  type: string;
  object_id: string;
  status: string;
}

export interface RunRow {
  id: string;
  status: RunStatus;
  trigger: RunTrigger;
  requested_by: string | null;
  window_start: Date;
  window_end: Date;
  stripe_matched: number | null;
  stripe_unmatched: number | null;
  ledger_matched: number | null;
  ledger_unmatched: number | null;
  healed_events: HealedEvent[];
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

export interface SnapshotRow {
  run_id: string;
  currency: string;
  stripe_available_minor: number;
  stripe_pending_minor: number;
  ledger_position_minor: number;
  difference_minor: number;
  status: "matched" | "mismatch";
  stripe_matched: number;
  stripe_unmatched: number;
  ledger_matched: number;
  ledger_unmatched: number;
  healed_events: number;
  opening_balance_minor: number;
  fx_exposure_minor: number;
  window_start: Date;
  window_end: Date;
}

/** Creates a run once: a scheduled run's id names its window, so a repeated fire finds the same row. */
export async function createRun(
  trx: Tx,
  r: { id: string; trigger: RunTrigger; requestedBy: string | null; from: Date; to: Date },
): Promise<RunRow> {
  await trx("reconciliation_runs")
    .insert({
      id: r.id,
      status: "queued",
      trigger: r.trigger,
      requested_by: r.requestedBy,
      window_start: r.from,
      window_end: r.to,
    })
    .onConflict("id")
    .ignore();
  return (await getRun(trx, r.id))!;
}

export async function getRun(trx: Tx, id: string): Promise<RunRow | undefined> {
  return trx<RunRow>("reconciliation_runs").where({ id }).first();
}

/** The newest finished run, for the admin summary and the web's metrics. */
export async function latestFinishedRun(trx: Tx): Promise<RunRow | undefined> {
  return trx<RunRow>("reconciliation_runs")
    .whereIn("status", ["matched", "mismatch"])
    .orderBy("finished_at", "desc")
    .first();
}

export async function markRunning(trx: Tx, id: string): Promise<void> {
  await trx("reconciliation_runs")
    .where({ id })
    .update({ status: "running", error: null, finished_at: null });
}

export async function finishRun(
  trx: Tx,
  id: string,
  r: {
    status: RunStatus;
    counts?: {
      stripeMatched: number;
      stripeUnmatched: number;
      ledgerMatched: number;
      ledgerUnmatched: number;
    };
    healed?: HealedEvent[];
    error?: string;
  },
): Promise<void> {
  await trx("reconciliation_runs")
    .where({ id })
    .update({
      status: r.status,
      finished_at: trx.fn.now(),
      error: r.error ?? null,
      ...(r.healed && { healed_events: JSON.stringify(r.healed) }),
      ...(r.counts && {
        stripe_matched: r.counts.stripeMatched,
        stripe_unmatched: r.counts.stripeUnmatched,
        ledger_matched: r.counts.ledgerMatched,
        ledger_unmatched: r.counts.ledgerUnmatched,
      }),
    });
}

/**
 * How long a run `npm run reconcile` made is left to it: the CLI runs its own in the foreground,
 * waiting up to 10 minutes for the lock, and ends it failed if it cannot finish. Taken over sooner,
 * a worker would run it while the CLI waits, and the CLI would print no progress for a run it
 * then finds done. Past this, its process is gone (killed outright) and a worker finishes it.
 */
export const CLI_RUN_OWNED_MS = 15 * 60_000;

/** Runs still open whose job may have been lost with Redis: the sweeper makes sure each has one. */
export async function findOpenRuns(trx: Tx, olderThanMs: number): Promise<string[]> {
  const { rows } = await trx.raw<{ rows: Array<{ id: string }> }>(
    `SELECT id FROM reconciliation_runs WHERE status IN ('queued', 'running')
        AND started_at < now() - (? * interval '1 millisecond')
        AND (trigger <> 'cli' OR started_at < now() - (? * interval '1 millisecond'))
      ORDER BY started_at LIMIT 100`,
    [olderThanMs, Math.max(olderThanMs, CLI_RUN_OWNED_MS)],
  );
  return rows.map((r) => r.id);
}

export async function saveSnapshots(trx: Tx, rows: readonly SnapshotRow[]): Promise<void> {
  if (rows.length === 0) return;
  await trx("stripe_reconciliation_snapshots")
    .insert(rows.map((r) => ({ ...r })))
    .onConflict(["run_id", "currency"])
    .merge();
}

export async function runSnapshots(trx: Tx, runId: string): Promise<SnapshotRow[]> {
  return trx<SnapshotRow>("stripe_reconciliation_snapshots").where({ run_id: runId }).orderBy("currency");
}

export async function listSnapshots(
  trx: Tx,
  f: { limit: number; startingAfter?: number; currency?: string },
): Promise<{ data: Array<SnapshotRow & { id: number; created_at: Date }>; hasMore: boolean }> {
  const q = trx("stripe_reconciliation_snapshots")
    .orderBy("id", "desc")
    .limit(f.limit + 1);
  if (f.currency !== undefined) q.where({ currency: f.currency });
  if (f.startingAfter !== undefined) q.where("id", "<", f.startingAfter);
  const rows = (await q) as Array<SnapshotRow & { id: number; created_at: Date }>;
  return { data: rows.slice(0, f.limit), hasMore: rows.length > f.limit };
}

export interface DiscrepancyRow {
  id: number;
  run_id: string;
  side: "stripe" | "ledger";
  stripe_id: string | null;
  ledger_transaction_id: number | null;
  ledger_key: string | null;
  type: string;
  amount_minor: number;
  currency: string;
  reason: string;
  created_at: Date;
}

export async function listDiscrepancies(
  trx: Tx,
  runId: string,
  f: { limit: number; startingAfter?: number },
): Promise<{ data: DiscrepancyRow[]; hasMore: boolean }> {
  const q = trx<DiscrepancyRow>("reconciliation_discrepancies")
    .where({ run_id: runId })
    .orderBy("id")
    .limit(f.limit + 1);
  if (f.startingAfter !== undefined) q.where("id", ">", f.startingAfter);
  const rows = (await q) as DiscrepancyRow[];
  return { data: rows.slice(0, f.limit), hasMore: rows.length > f.limit };
}

/**
 * Per currency: the platform accounts the balance check reads, as the books stood at a cut:
 * postings stamped before `before` (the database's clock), less those of `excludeKeys` (what
 * Stripe's lines after the cut claim, taken off Stripe's side too). A posting's transaction
 * stamps it when it starts, so one still committing at `before` is counted: its line came first.
 */
export async function ledgerPositions(
  trx: Tx,
  asOf: { before: Date; excludeKeys: readonly string[] },
): Promise<Map<string, { stripe: number; opening: number; fx: number }>> {
  const { rows } = await trx.raw<{ rows: Array<{ currency: string; account: string; balance: number }> }>(
    // The excluded postings are few and found by key; taking them off beside the one scan keeps
    // the scan free of a per-entry lookup.
    `SELECT currency, account, sum(amount)::bigint AS balance FROM (
       SELECT currency, account, amount_minor AS amount FROM wallet_ledger
        WHERE user_id IS NULL AND account IN ('stripe', 'opening_balance', 'fx') AND created_at < ?
       UNION ALL
       SELECT e.currency, e.account, -e.amount_minor FROM wallet_ledger_transactions t
         JOIN wallet_ledger e ON e.transaction_id = t.id
        WHERE t.idempotency_key = ANY(?::text[]) AND e.user_id IS NULL
          AND e.account IN ('stripe', 'opening_balance', 'fx') AND e.created_at < ?) books
      GROUP BY currency, account`,
    [asOf.before, [...asOf.excludeKeys], asOf.before],
  );
  const out = new Map<string, { stripe: number; opening: number; fx: number }>();
  for (const r of rows) {
    const p = out.get(r.currency) ?? { stripe: 0, opening: 0, fx: 0 };
    if (r.account === "stripe") p.stripe = r.balance;
    else if (r.account === "opening_balance") p.opening = r.balance;
    else p.fx = r.balance;
    out.set(r.currency, p);
  }
  return out;
}

/** The database's clock, which stamps postings: a cut on postings is read from it, not the worker's. */
export async function databaseNow(trx: Tx): Promise<Date> {
  const { rows } = await trx.raw<{ rows: Array<{ now: Date }> }>(`SELECT clock_timestamp() AS now`);
  return rows[0]!.now;
}

/**
 * Whether Stripe holds anything for the platform in a currency, by the books: a
 * currency whose charges all settle in another (FX) never touches `stripe` in it,
 * so Stripe could not pay it out. An index probe, not a sum.
 */
export async function holdsCurrency(trx: Tx, currency: string): Promise<boolean> {
  const { rows } = await trx.raw<{ rows: Array<{ held: boolean }> }>(
    `SELECT EXISTS (SELECT 1 FROM wallet_ledger WHERE account = 'stripe' AND currency = ?) AS held`,
    [currency],
  );
  return rows[0]?.held ?? false;
}
