import { z } from "zod";
import type { EventRow } from "../db/stores/events.js";
import { EVENT_STATUSES } from "../db/stores/events.js";
import {
  RUN_STATUSES,
  RUN_TRIGGERS,
  type DiscrepancyRow,
  type RunRow,
  type SnapshotRow,
} from "../db/stores/reconciliation.js";
import type { adminSummary } from "../db/stores/summary.js";

/**
 * The admin and finance API's shapes (see present.ts for the convention): events, the summary,
 * the invariant report, the audit log and reconciliation. Ids that are bigint in Postgres are
 * strings here, as everywhere in the API.
 */
const timestamp = z.iso.datetime();
const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null) => d?.toISOString() ?? null;
const count = z.int().min(0);

export const AdminEvent = z
  .object({
    id: z.string(),
    type: z.string(),
    livemode: z.boolean(),
    account: z.string().nullable().meta({ description: "The connected account, for a Connect event" }),
    stripe_created: z
      .int()
      .nullable()
      .meta({ description: "Stripe's `created` (unix seconds); null if unusable" }),
    received_at: timestamp,
    status: z.enum(EVENT_STATUSES),
    attempts: count,
    last_error: z.string().nullable(),
    enqueued_at: timestamp.nullable(),
    processed_at: timestamp.nullable(),
  })
  .meta({ id: "AdminEvent" });

export const presentEvent = (e: EventRow): z.output<typeof AdminEvent> => ({
  id: e.id,
  type: e.type,
  livemode: e.livemode,
  account: e.account,
  stripe_created: e.stripe_created,
  received_at: iso(e.received_at),
  status: e.status,
  attempts: e.attempts,
  last_error: e.last_error,
  enqueued_at: isoOrNull(e.enqueued_at),
  processed_at: isoOrNull(e.processed_at),
});

export const ReplayedEvent = z.object({
  id: z.string(),
  type: z.string(),
  status: z.enum(EVENT_STATUSES),
  attempts: count,
});

type Summary = Awaited<ReturnType<typeof adminSummary>>;
export const AdminSummary = z
  .object({
    totals: z.array(
      z.object({
        currency: z.string(),
        users_available_minor: z.int(),
        users_held_minor: z.int(),
        users_pending_minor: z.int(),
        negative_wallets: count,
        stripe_position_minor: z.int().meta({ description: "What Stripe holds: minus the `stripe` account" }),
        stripe_fees_minor: z.int(),
        fee_revenue_minor: z.int(),
        dispute_reserve_minor: z.int(),
      }),
    ),
    pending_withdrawals: count,
    failed_events: count,
    last_reconciliation: z
      .object({
        run_id: z.string(),
        status: z.enum(RUN_STATUSES),
        window_start: timestamp,
        window_end: timestamp,
        finished_at: timestamp.nullable(),
        stripe_unmatched: count.nullable(),
        ledger_unmatched: count.nullable(),
        currencies: z.array(
          z.object({
            currency: z.string(),
            status: z.enum(["matched", "mismatch"]),
            difference_minor: z.int(),
            opening_balance_minor: z.int(),
            fx_exposure_minor: z.int(),
          }),
        ),
      })
      .nullable(),
  })
  .meta({ id: "AdminSummary" });

export const presentSummary = (s: Summary): z.output<typeof AdminSummary> => ({
  ...s,
  last_reconciliation: s.last_reconciliation && {
    ...s.last_reconciliation,
    window_start: iso(s.last_reconciliation.window_start),
    window_end: iso(s.last_reconciliation.window_end),
    finished_at: isoOrNull(s.last_reconciliation.finished_at),
  },
});

const decimalText = z
  .string()
  .regex(/^-?\d+$/)
  .meta({ description: "Minor units as text (may pass 2^53)" });
const Violation = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("unbalanced_transaction"),
    transactionId: z.string(),
    currency: z.string(),
    sumMinor: decimalText,
  }),
  z.object({
    kind: z.literal("balance_cache_mismatch"),
    userId: z.string(),
    currency: z.string(),
    bucket: z.string(),
    cachedMinor: z.string(),
    entriesMinor: decimalText,
  }),
  z.object({
    kind: z.literal("pending_memo_mismatch"),
    userId: z.string(),
    currency: z.string(),
    cachedMinor: decimalText,
    memoMinor: decimalText,
  }),
  z.object({ kind: z.literal("duplicate_movement"), key: z.string(), count: z.int() }),
  z.object({ kind: z.literal("short_transaction"), transactionId: z.string(), entries: count }),
]);
export const LedgerCheck = z
  .object({
    ok: z.boolean(),
    violations: z.array(Violation),
    negativeBalances: z
      .array(z.object({ userId: z.string(), currency: z.string(), availableMinor: decimalText }))
      .meta({ description: "Not violations: wallets a Stripe-forced debit took below zero" }),
  })
  .meta({ id: "LedgerCheck" });

export const AuditEntry = z
  .object({
    id: z.string(),
    actor: z.string(),
    action: z.string(),
    target: z.string(),
    reason: z.string().nullable(),
    before: z.unknown().meta({ description: "The object before, as JSON; null if none" }),
    after: z.unknown().meta({ description: "The object after, as JSON; null if none" }),
    request_id: z.string().nullable(),
    created_at: timestamp,
  })
  .meta({ id: "AuditEntry" });

interface AuditRow {
  id: number;
  actor: string;
  action: string;
  target: string;
  reason: string | null;
  before: unknown;
  after: unknown;
  request_id: string | null;
  created_at: Date;
}
export const presentAudit = (r: AuditRow): z.output<typeof AuditEntry> => ({
  id: String(r.id),
  actor: r.actor,
  action: r.action,
  target: r.target,
  reason: r.reason,
  before: r.before,
  after: r.after,
  request_id: r.request_id,
  created_at: iso(r.created_at),
});

export const Snapshot = z
  .object({
    id: z.string(),
    run_id: z.string().nullable(),
    currency: z.string(),
    stripe_available_minor: z.int(),
    stripe_pending_minor: z.int(),
    ledger_position_minor: z.int().meta({ description: "What the books say Stripe holds: minus `stripe`" }),
    difference_minor: z.int().meta({ description: "Stripe (available + pending) minus the ledger position" }),
    status: z.enum(["matched", "mismatch"]),
    stripe_matched: count,
    stripe_unmatched: count,
    ledger_matched: count,
    ledger_unmatched: count,
    healed_events: count,
    opening_balance_minor: z
      .int()
      .meta({ description: "Left in the cut-over clearing account; drains to 0" }),
    fx_exposure_minor: z.int().meta({ description: "Balance of the `fx` account: open conversion exposure" }),
    window_start: timestamp.nullable(),
    window_end: timestamp.nullable(),
    created_at: timestamp,
  })
  .meta({ id: "ReconciliationSnapshot" });

/** The stores select the whole row: SnapshotRow plus its id and created_at (older rows: no run, no window). */
type StoredSnapshot = Omit<SnapshotRow, "run_id" | "window_start" | "window_end"> & {
  id: number;
  run_id: string | null;
  window_start: Date | null;
  window_end: Date | null;
  created_at: Date;
};
export const presentSnapshot = (row: SnapshotRow): z.output<typeof Snapshot> => {
  const s = row as unknown as StoredSnapshot;
  return {
    id: String(s.id),
    run_id: s.run_id,
    currency: s.currency,
    stripe_available_minor: s.stripe_available_minor,
    stripe_pending_minor: s.stripe_pending_minor,
    ledger_position_minor: s.ledger_position_minor,
    difference_minor: s.difference_minor,
    status: s.status,
    stripe_matched: s.stripe_matched,
    stripe_unmatched: s.stripe_unmatched,
    ledger_matched: s.ledger_matched,
    ledger_unmatched: s.ledger_unmatched,
    healed_events: s.healed_events,
    opening_balance_minor: s.opening_balance_minor,
    fx_exposure_minor: s.fx_exposure_minor,
    window_start: isoOrNull(s.window_start),
    window_end: isoOrNull(s.window_end),
    created_at: iso(s.created_at),
  };
};

export const Discrepancy = z
  .object({
    id: z.string(),
    run_id: z.string(),
    side: z.enum(["stripe", "ledger"]).meta({ description: "Which side has what the other lacks" }),
    stripe_id: z.string().nullable().meta({ description: "The balance transaction (txn_…)" }),
    ledger_transaction_id: z.string().nullable(),
    ledger_key: z.string().nullable(),
    type: z.string(),
    amount_minor: z.int(),
    currency: z.string(),
    reason: z.string().meta({ description: "What is wrong and what to do; see the README runbook" }),
    created_at: timestamp,
  })
  .meta({ id: "ReconciliationDiscrepancy" });

export const presentDiscrepancy = (d: DiscrepancyRow): z.output<typeof Discrepancy> => ({
  ...d,
  id: String(d.id),
  ledger_transaction_id: d.ledger_transaction_id === null ? null : String(d.ledger_transaction_id),
  created_at: iso(d.created_at),
});

export const Run = z
  .object({
    id: z.string(),
    status: z.enum(RUN_STATUSES),
    trigger: z.enum(RUN_TRIGGERS),
    requested_by: z.string().nullable(),
    window_start: timestamp,
    window_end: timestamp,
    stripe_matched: count.nullable(),
    stripe_unmatched: count.nullable(),
    ledger_matched: count.nullable(),
    ledger_unmatched: count.nullable(),
    healed_events: z.array(
      z.object({ event_id: z.string(), type: z.string(), object_id: z.string(), status: z.string() }),
    ),
    error: z.string().nullable(),
    started_at: timestamp,
    finished_at: timestamp.nullable(),
  })
  .meta({ id: "ReconciliationRun" });

export const presentRun = (r: RunRow): z.output<typeof Run> => ({
  id: r.id,
  status: r.status,
  trigger: r.trigger,
  requested_by: r.requested_by,
  window_start: iso(r.window_start),
  window_end: iso(r.window_end),
  stripe_matched: r.stripe_matched,
  stripe_unmatched: r.stripe_unmatched,
  ledger_matched: r.ledger_matched,
  ledger_unmatched: r.ledger_unmatched,
  healed_events: r.healed_events,
  error: r.error,
  started_at: iso(r.started_at),
  finished_at: isoOrNull(r.finished_at),
});
