import type { Db, Tx } from "../knex.js";
import { prepared, type Statement } from "../prepared.js";

export const EVENT_STATUSES = [
  "received",
  "enqueued",
  "processing",
  "processed",
  "failed",
  "ignored",
] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];
export const TERMINAL_STATUSES: readonly EventStatus[] = ["processed", "failed", "ignored"];

export interface EventRow {
  id: string;
  type: string;
  livemode: boolean;
  api_version: string | null;
  account: string | null;
  /** NULL (with `payload`) only for an unusable delivery kept by its raw bytes. */
  stripe_created: number | null;
  payload: unknown;
  raw_body: Buffer | null;
  received_at: Date;
  status: EventStatus;
  attempts: number;
  last_error: string | null;
  enqueued_at: Date | null;
  processed_at: Date | null;
}

export interface NewEvent {
  id: string;
  type: string;
  livemode: boolean;
  apiVersion: string | null;
  account: string | null;
  created: number;
  rawPayload: string;
  /** `enqueued` when a job will be added right after; `ignored` for types no queue handles. */
  status: "enqueued" | "ignored";
  /** How it reached us: Stripe's delivery, or a reconciliation heal that listed it from the Events API. */
  receivedVia: "webhook" | "reconciliation";
}

/**
 * Stores an event once. `ON CONFLICT DO NOTHING` makes a redelivery (even a
 * concurrent one) a no-op; the return value says whether this call stored it.
 * Rows start as `enqueued` with `enqueued_at = now()` because the job is added
 * next: if that add fails, the sweeper finds the row by its age.
 */
export async function insertEvent(db: Db, e: NewEvent): Promise<boolean> {
  // The webhook's one hot statement, prepared: knex's query building costs as much here as the
  // rest of the request (see src/db/prepared.ts).
  const { rowCount } = await prepared(db, INSERT_EVENT, [
    e.id,
    e.type,
    e.livemode,
    e.apiVersion,
    e.account,
    e.created,
    e.rawPayload,
    e.status,
    e.receivedVia,
  ]);
  return rowCount === 1;
}

const INSERT_EVENT: Statement = {
  name: "coffer_insert_event",
  text: `INSERT INTO stripe_webhook_events
  (id, type, livemode, api_version, account, stripe_created, payload, status, received_via, enqueued_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, CASE WHEN $8 = 'enqueued' THEN now() END)
  ON CONFLICT (id) DO NOTHING`,
};

export interface UnusableEvent {
  id: string;
  type: string;
  livemode: boolean;
  rawBody: Buffer;
  reason: string;
}

/**
 * Keeps a signed delivery that cannot be stored as an event: its exact bytes, `failed` with
 * the reason, nothing to enqueue. `ON CONFLICT DO NOTHING` as for any event, so a redelivery
 * is a duplicate; the return value says whether this call stored it.
 */
export async function insertUnusableEvent(db: Db, e: UnusableEvent): Promise<boolean> {
  const { rowCount } = await db.raw<{ rowCount: number }>(
    `INSERT INTO stripe_webhook_events
       (id, type, livemode, raw_body, status, last_error, received_via, processed_at)
     VALUES (?, ?, ?, ?, 'failed', ?, 'webhook', now())
     ON CONFLICT (id) DO NOTHING`,
    [e.id, e.type, e.livemode, e.rawBody, `unusable delivery: ${e.reason}`],
  );
  return rowCount === 1;
}

/**
 * The fields that make an event what it is, as jsonb paths: Stripe's Event object says the
 * contents of `data` never change, and the rest of these are fixed when the event is created.
 * Everything else in the envelope is left out, because Stripe fills it per copy: a retry counts
 * down `pending_webhooks`, and a copy the reconciliation heal listed from GET /v1/events may
 * differ from the later delivery in `pending_webhooks`, `request` or `context`. Comparing those
 * would alert on every healed event Stripe still delivers. A field absent on one side and null
 * on the other compares equal (`#>` gives NULL, which jsonb_build_array keeps as null).
 */
const EVENT_IDENTITY = [
  "{id}",
  "{type}",
  "{created}",
  "{livemode}",
  "{api_version}",
  "{account}",
  "{data,object}",
  "{data,previous_attributes}",
] as const;
const identityOf = (payload: string) =>
  `jsonb_build_array(${EVENT_IDENTITY.map((path) => `${payload} #> '${path}'`).join(", ")})`;

/**
 * Whether the stored event with this id is the same event as this raw text (EVENT_IDENTITY):
 * a redelivery of the same event is, while a different body under a seen id (a bug, or someone
 * holding the secret) is not and must change nothing.
 */
export async function samePayload(db: Db, id: string, rawPayload: string): Promise<boolean> {
  const { rows } = await db.raw<{ rows: Array<{ same: boolean }> }>(
    `SELECT e.payload IS NOT NULL AND ${identityOf("e.payload")} = ${identityOf("i.payload")} AS same
       FROM stripe_webhook_events e, (SELECT ?::jsonb AS payload) i
      WHERE e.id = ?`,
    [rawPayload, id],
  );
  return rows[0]?.same ?? false;
}

/** Which of these events are stored already, with their status: a heal ingests only the others. */
export async function eventStatuses(
  trx: Tx,
  ids: readonly string[],
): Promise<Map<string, { status: EventStatus; last_error: string | null }>> {
  if (ids.length === 0) return new Map();
  const { rows } = await trx.raw<{
    rows: Array<{ id: string; status: EventStatus; last_error: string | null }>;
  }>(`SELECT id, status, last_error FROM stripe_webhook_events WHERE id = ANY(?::text[])`, [[...ids]]);
  return new Map(rows.map((r) => [r.id, { status: r.status, last_error: r.last_error }]));
}

export async function getEvent(trx: Tx, id: string): Promise<EventRow | undefined> {
  return trx<EventRow>("stripe_webhook_events").where({ id }).first();
}

/** A failed add to Redis: mark the row so ops see it; the sweeper enqueues it later. */
export async function markNotEnqueued(trx: Tx, id: string, error: string): Promise<void> {
  await trx("stripe_webhook_events")
    .where({ id, status: "enqueued" })
    .update({ status: "received", enqueued_at: null, last_error: error });
}

/** What a job attempt needs of its event row. */
export type ClaimedEvent = Pick<
  EventRow,
  "id" | "type" | "payload" | "received_at" | "stripe_created" | "attempts"
>;

/**
 * Claims an event for a job attempt (`processing`, attempts+1); returns null when it is already
 * terminal (a duplicate job). One of the two statements every event job runs outside its
 * flow's transaction, so it is a prepared statement (src/db/prepared.ts).
 *
 * The claim commits without waiting for its WAL flush (synchronous_commit off for its own
 * transaction only). It moves no money, and whatever the job does next commits synchronously:
 * its posting's batch, or the row's finish, retry or release. That commit flushes the WAL up to
 * its own record, so the claim's, written before it, is on disk before the job is acknowledged.
 * Only a Postgres crash in between can lose a claim: the row then reads as before it (enqueued,
 * one attempt fewer), which is true of a job the crash cut short, and BullMQ runs the job again.
 * Waiting for that flush put a second fsync on every credit's critical path: without it, in
 * alternating quick benches (scripts/bench.ts, 100 wallets), Postgres's CPU per posting fell
 * 9–13 % and the whole machine's 9–11 %, and credits/s rose 1–8 %. On a disk slower to fsync
 * than this machine's (142 µs), the wait it saves is longer.
 */
export async function startProcessing(db: Db, id: string): Promise<ClaimedEvent | null> {
  // Inside a caller's transaction the setting would cover that transaction's writes too.
  if ((db as { isTransaction?: boolean }).isTransaction)
    throw new Error("startProcessing commits on its own: call it outside a transaction");
  const { rows } = await prepared<ClaimedEvent>(db, CLAIM_EVENT, [id]);
  return rows[0] ?? null;
}

export const CLAIM_EVENT: Statement = {
  name: "coffer_claim_event",
  // set_config(…, true) is transaction-local: it ends with the claim's implicit transaction.
  text: `WITH claimed AS (
           UPDATE stripe_webhook_events SET status = 'processing', attempts = attempts + 1
            WHERE id = $1 AND status NOT IN ('processed', 'failed', 'ignored')
        RETURNING id, type, payload, received_at, stripe_created, attempts)
         SELECT id, type, payload, received_at, stripe_created, attempts FROM claimed
          WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL`,
};

/**
 * The event's final status. Called inside a flow's own transaction (group commit: the event is
 * `processed` exactly when its posting commits), or on its own after the flow.
 */
export async function finishEvent(
  trx: Tx,
  id: string,
  outcome: "processed" | "failed",
  lastError: string | null,
): Promise<void> {
  await prepared(trx, FINISH_EVENT, [id, outcome, lastError]);
}

const FINISH_EVENT: Statement = {
  name: "coffer_finish_event",
  text: `UPDATE stripe_webhook_events SET status = $2, last_error = $3, processed_at = clock_timestamp()
          WHERE id = $1 AND status NOT IN ('processed', 'failed', 'ignored')`,
};

/** A transient failure with retries left: the job will run again, so the event stays open. */
export async function noteRetry(trx: Tx, id: string, error: string): Promise<void> {
  await trx("stripe_webhook_events")
    .where({ id, status: "processing" })
    .update({ status: "enqueued", last_error: error });
}

/**
 * A rate limit delayed the job (BullMQ's DelayedError): the claim is given back, attempt and all,
 * because nothing about the event failed. The row is open again with the reason in `last_error`;
 * `enqueued_at` is touched since its job is known to exist (delayed), so the sweeper leaves it be.
 */
export async function releaseForDelay(trx: Tx, id: string, reason: string): Promise<void> {
  await trx.raw(
    `UPDATE stripe_webhook_events
        SET status = 'enqueued', attempts = GREATEST(attempts - 1, 0), last_error = ?, enqueued_at = now()
      WHERE id = ? AND status = 'processing'`,
    [reason, id],
  );
}

/** Open events whose last enqueue is older than the threshold: the sweeper's work list. */
export async function findStaleOpenEvents(
  trx: Tx,
  olderThanMs: number,
  limit: number,
): Promise<Array<{ id: string; type: string }>> {
  const { rows } = await trx.raw<{ rows: Array<{ id: string; type: string }> }>(
    `SELECT id, type FROM stripe_webhook_events
      WHERE status IN ('received', 'enqueued', 'processing')
        AND (enqueued_at IS NULL OR enqueued_at < now() - (? * interval '1 millisecond'))
      ORDER BY enqueued_at NULLS FIRST LIMIT ?`,
    [olderThanMs, limit],
  );
  return rows;
}

export async function touchEnqueued(trx: Tx, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await trx("stripe_webhook_events")
    .whereIn("id", ids)
    .whereIn("status", ["received", "enqueued", "processing"])
    .update({
      enqueued_at: trx.fn.now(),
      status: trx.raw(`CASE WHEN status = 'received' THEN 'enqueued' ELSE status END`),
    });
}

export async function listEvents(
  trx: Tx,
  f: { status?: string; limit: number; startingAfter?: string },
): Promise<{ data: EventRow[]; hasMore: boolean }> {
  const q = trx<EventRow>("stripe_webhook_events")
    .select(
      "id",
      "type",
      "livemode",
      "account",
      "stripe_created",
      "received_at",
      "status",
      "attempts",
      "last_error",
      "enqueued_at",
      "processed_at",
    )
    .orderBy("id", "desc")
    .limit(f.limit + 1);
  if (f.status !== undefined) q.where({ status: f.status as EventStatus });
  if (f.startingAfter !== undefined) q.where("id", "<", f.startingAfter);
  const rows = (await q) as EventRow[];
  return { data: rows.slice(0, f.limit), hasMore: rows.length > f.limit };
}

/**
 * Re-opens a `failed` (or `ignored`) event for a replay: a fresh attempt count
 * and no error. Only a final status can be re-opened, and only an event stored as one
 * (an unusable delivery kept by its raw bytes has nothing to apply); the caller then makes
 * sure its job exists. Applying an event again is safe: postings are keyed.
 */
export async function reopenEvent(trx: Tx, id: string): Promise<EventRow | undefined> {
  const { rows } = await trx.raw<{ rows: EventRow[] }>(
    `UPDATE stripe_webhook_events
        SET status = 'enqueued', attempts = 0, last_error = NULL, enqueued_at = now(), processed_at = NULL
      WHERE id = ? AND status IN ('failed', 'ignored') AND payload IS NOT NULL RETURNING *`,
    [id],
  );
  return rows[0];
}
