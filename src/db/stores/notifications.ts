import type { Tx } from "../knex.js";

/**
 * `user_notifications`: what the main application should tell a user (a trial ending, a payment
 * that failed), one row per fact: `dedupe_key` names the fact, so every copy of its events, in
 * any order, records it once. The main application pages through them (listNotifications, an
 * order no late commit can fall behind) and acknowledges each.
 */
export interface NotificationRow {
  id: number;
  user_id: string;
  kind: "trial_will_end" | "invoice_payment_failed";
  subscription_id: string | null;
  dedupe_key: string;
  payload: Record<string, unknown>;
  created_at: Date;
  delivered_at: Date | null;
}

/** True when this call recorded it; false when the fact was recorded already. */
export async function recordNotification(
  trx: Tx,
  n: Pick<NotificationRow, "user_id" | "kind" | "subscription_id" | "dedupe_key" | "payload">,
): Promise<boolean> {
  const rows = await trx("user_notifications")
    .insert({ ...n, payload: JSON.stringify(n.payload) })
    .onConflict("dedupe_key")
    .ignore()
    .returning("id");
  return rows.length > 0;
}

/**
 * The feed: rows whose inserting transaction, and every transaction older than it, has ended,
 * ordered by (transaction id, id); the cursor is the id of the previous page's last
 * row, whose place in that order is looked up (Stripe's `starting_after` names an object, not a
 * position). Optionally only (un)delivered ones.
 *
 * Why not simply `id > cursor`: ids are taken from the sequence when a row is inserted, not when it
 * commits. Two workers insert at once; the lower id may commit after the higher was read, and a
 * reader already past the higher id never sees it. A settle interval (hide rows younger than N
 * seconds) only helps while every inserting transaction is shorter than N, which nothing enforces
 * on PostgreSQL 15 (no transaction_timeout), and a serialising lock around every insert costs the
 * writers for the reader's sake. So the rule the Postgres event feeds use (the transaction-id
 * horizon of Emmett's message store and of postgresql-event-sourcing): a row is listed only once
 * its `xact_id` is below `pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still
 * running. Every transaction below that horizon has committed or rolled back, so that part of the
 * feed is final, and any row committed later has an `xact_id` at or above the horizon, which is
 * above every row already listed: it comes after the cursor and is never skipped. The cost is a
 * delay, not a loss: a long write transaction anywhere in the cluster (the horizon is
 * cluster-wide) holds the newest rows back until it ends. Ids stay unique but a page's ids need
 * not increase.
 */
export async function listNotifications(
  trx: Tx,
  q: { limit: number; startingAfter?: number; delivered?: boolean },
): Promise<{ data: NotificationRow[]; hasMore: boolean }> {
  const query = trx<NotificationRow>("user_notifications")
    .whereRaw("xact_id < pg_snapshot_xmin(pg_current_snapshot())")
    .orderBy([
      { column: "xact_id", order: "asc" },
      { column: "id", order: "asc" },
    ])
    .limit(q.limit + 1);
  // A cursor that names no notification matches nothing: an empty page, as for subscriptions.
  if (q.startingAfter !== undefined)
    query.whereRaw("(xact_id, id) > (SELECT xact_id, id FROM user_notifications WHERE id = ?)", [
      q.startingAfter,
    ]);
  if (q.delivered === true) query.whereNotNull("delivered_at");
  if (q.delivered === false) query.whereNull("delivered_at");
  const rows = await query;
  return { data: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

/** Idempotent: the first acknowledgement's time stays. Undefined when there is no such notification. */
export async function markDelivered(trx: Tx, id: number): Promise<NotificationRow | undefined> {
  await trx("user_notifications")
    .where({ id })
    .whereNull("delivered_at")
    .update({ delivered_at: trx.fn.now() });
  return trx<NotificationRow>("user_notifications").where({ id }).first();
}
