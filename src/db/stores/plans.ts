import type { Tx } from "../knex.js";

/**
 * `subscription_plans`: one row per recurring Stripe Price, with its Product's name and state.
 * The price's fields are as of `stripe_updated`, the product's as of `product_updated`; `active`
 * is Postgres's (price active and product active). Rows are never deleted.
 */
export interface PlanRow {
  price_id: string;
  product_id: string;
  name: string;
  unit_amount_minor: number | null;
  currency: string;
  interval: string | null;
  interval_count: number | null;
  trial_period_days: number | null;
  price_active: boolean;
  price_deleted: boolean;
  product_active: boolean;
  active: boolean;
  stripe_updated: number;
  product_updated: number;
  created_at: Date;
  updated_at: Date;
}

export interface PriceFields {
  product_id: string;
  unit_amount_minor: number | null;
  currency: string;
  interval: string | null;
  interval_count: number | null;
  trial_period_days: number | null;
  price_active: boolean;
  price_deleted: boolean;
}

export interface ProductFields {
  name: string;
  product_active: boolean;
}

export async function getPlan(trx: Tx, priceId: string): Promise<PlanRow | undefined> {
  return trx<PlanRow>("subscription_plans").where({ price_id: priceId }).first();
}

/** Locks the plan's row: a price's events apply one at a time, each deciding on what is stored. */
export async function lockPlan(trx: Tx, priceId: string): Promise<PlanRow | undefined> {
  return trx<PlanRow>("subscription_plans").where({ price_id: priceId }).forUpdate().first();
}

/** The rows of a product, locked in price order (one order for every writer: no deadlock). */
export async function lockProductPlans(trx: Tx, productId: string): Promise<PlanRow[]> {
  return trx<PlanRow>("subscription_plans").where({ product_id: productId }).orderBy("price_id").forUpdate();
}

/** A first sight of the price; a concurrent first sight keeps its row (the caller re-decides). */
export async function insertPlan(
  trx: Tx,
  priceId: string,
  price: PriceFields,
  product: ProductFields,
  asOf: number,
): Promise<boolean> {
  const rows = await trx("subscription_plans")
    .insert({ price_id: priceId, ...price, ...product, stripe_updated: asOf, product_updated: asOf })
    .onConflict("price_id")
    .ignore()
    .returning("price_id");
  return rows.length > 0;
}

export async function updatePrice(trx: Tx, priceId: string, price: PriceFields, asOf: number): Promise<void> {
  await trx("subscription_plans")
    .where({ price_id: priceId })
    .update({ ...price, stripe_updated: asOf, updated_at: trx.fn.now() });
}

export async function updateProduct(
  trx: Tx,
  priceIds: string[],
  product: ProductFields,
  asOf: number,
): Promise<void> {
  if (priceIds.length === 0) return;
  await trx("subscription_plans")
    .whereIn("price_id", priceIds)
    .update({ ...product, product_updated: asOf, updated_at: trx.fn.now() });
}

/**
 * After a complete sync: prices Stripe no longer lists, and whose row is older than the sync,
 * were deleted (their `price.deleted` was lost). They stay, inactive.
 */
export async function markUnlisted(
  trx: Tx,
  listed: readonly string[],
  syncStartedS: number,
): Promise<string[]> {
  const rows = await trx("subscription_plans")
    .whereNot("price_deleted", true)
    .where("stripe_updated", "<", syncStartedS)
    .whereNotIn("price_id", [...listed])
    .update({
      price_active: false,
      price_deleted: true,
      stripe_updated: syncStartedS,
      updated_at: trx.fn.now(),
    })
    .returning("price_id");
  return rows.map((r: { price_id: string }) => r.price_id);
}

/** Active plans in the given currencies, by price id (the cursor), for GET /v1/plans. */
export async function listActivePlans(
  trx: Tx,
  currencies: readonly string[],
  page: { limit: number; startingAfter?: string },
): Promise<{ data: PlanRow[]; hasMore: boolean }> {
  const q = trx<PlanRow>("subscription_plans")
    .where({ active: true })
    .whereNotNull("interval")
    .whereIn("currency", currencies)
    .orderBy("price_id", "asc")
    .limit(page.limit + 1);
  if (page.startingAfter !== undefined) q.where("price_id", ">", page.startingAfter);
  const rows = await q;
  return { data: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
}
