import type { Tx } from "../knex.js";

/**
 * `user_subscriptions`: Stripe's subscriptions of Coffer's users (`id` is the `sub_…`). The
 * subscription's fields are as of `stripe_updated`, its latest invoice's as of
 * `invoice_updated` (see src/ledger/subscriptions.ts for the rule both follow).
 */
export interface SubscriptionRow {
  id: string;
  user_id: string;
  price_id: string;
  setup_id: string | null;
  setup_intent_id: string | null;
  customer_id: string | null;
  status: string;
  current_period_start: Date | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  canceled_at: Date | null;
  ended_at: Date | null;
  trial_end: Date | null;
  latest_invoice_id: string | null;
  latest_invoice_status: string | null;
  /** The latest invoice's own `created` (seconds); null on rows mirrored before it was kept. */
  latest_invoice_created: number | null;
  stripe_updated: number;
  invoice_updated: number;
  created_at: Date;
  updated_at: Date;
}

/** What a subscription's own snapshot sets. */
export interface SubscriptionFields {
  price_id: string;
  status: string;
  current_period_start: Date | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  canceled_at: Date | null;
  ended_at: Date | null;
  trial_end: Date | null;
}

export interface InvoiceFields {
  latest_invoice_id: string;
  latest_invoice_status: string | null;
  latest_invoice_created: number;
}

export async function lockSubscription(trx: Tx, id: string): Promise<SubscriptionRow | undefined> {
  return trx<SubscriptionRow>("user_subscriptions").where({ id }).forUpdate().first();
}

/** The first sight of a subscription; a concurrent first sight keeps its row (the caller re-decides). */
export async function insertSubscription(
  trx: Tx,
  r: { id: string; userId: string; setupId: string | null; customerId: string },
  fields: SubscriptionFields,
  asOf: number,
  invoice: InvoiceFields | null,
): Promise<boolean> {
  const rows = await trx("user_subscriptions")
    .insert({
      id: r.id,
      user_id: r.userId,
      setup_id: r.setupId,
      customer_id: r.customerId,
      ...fields,
      stripe_updated: asOf,
      ...(invoice && { ...invoice, invoice_updated: asOf }),
    })
    .onConflict("id")
    .ignore()
    .returning("id");
  return rows.length > 0;
}

export async function updateSubscriptionFields(
  trx: Tx,
  id: string,
  f: SubscriptionFields,
  asOf: number,
): Promise<void> {
  await trx("user_subscriptions")
    .where({ id })
    .update({ ...f, stripe_updated: asOf, updated_at: trx.fn.now() });
}

export async function updateInvoiceFields(
  trx: Tx,
  id: string,
  f: InvoiceFields,
  asOf: number,
): Promise<void> {
  await trx("user_subscriptions")
    .where({ id })
    .update({ ...f, invoice_updated: asOf, updated_at: trx.fn.now() });
}

/** Whether the user holds the price already, in one of `statuses` (the live ones). */
export async function hasSubscriptionTo(
  trx: Tx,
  userId: string,
  priceId: string,
  statuses: readonly string[],
): Promise<boolean> {
  const row = await trx("user_subscriptions")
    .where({ user_id: userId, price_id: priceId })
    .whereIn("status", [...statuses])
    .first("id");
  return row !== undefined;
}

export async function getSubscriptionForUser(
  trx: Tx,
  userId: string,
  id: string,
): Promise<SubscriptionRow | undefined> {
  return trx<SubscriptionRow>("user_subscriptions").where({ id, user_id: userId }).first();
}

/** Newest first; the cursor is a subscription id of the previous page. */
export async function listSubscriptions(
  trx: Tx,
  userId: string,
  page: { limit: number; startingAfter?: string },
): Promise<{ data: SubscriptionRow[]; hasMore: boolean }> {
  const q = trx<SubscriptionRow>("user_subscriptions")
    .where({ user_id: userId })
    .orderBy([
      { column: "created_at", order: "desc" },
      { column: "id", order: "desc" },
    ])
    .limit(page.limit + 1);
  // A cursor that is not one of the user's subscriptions matches nothing: an empty page.
  if (page.startingAfter !== undefined)
    q.whereRaw(
      "(created_at, id) < (SELECT created_at, id FROM user_subscriptions WHERE id = ? AND user_id = ?)",
      [page.startingAfter, userId],
    );
  const rows = await q;
  return { data: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
}
