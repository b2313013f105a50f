import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { parseCurrency } from "../currencies.js";
import { paramError, resourceMissing } from "../errors.js";
import { newId, nowSeconds } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import type { Store } from "../state.js";
import { newProduct, requireProduct } from "./products.js";

declare module "../state.js" {
  interface ObjectTypes {
    price: Stripe.Price;
  }
}

/** Prices deleted in the Dashboard: the event went out, and the API no longer finds them. */
const deleted = new WeakMap<Store, Set<string>>();
const deletedOf = (store: Store) => deleted.get(store) ?? deleted.set(store, new Set()).get(store)!;

const INTERVALS = ["day", "week", "month", "year"] as const;
/** Stripe's cap on a recurring interval: one year (365 days, 52 weeks, 12 months). */
const MAX_DAYS: Record<(typeof INTERVALS)[number], number> = { day: 1, week: 7, month: 30, year: 365 };

/** The SDK types decimal amounts as its Decimal class; on the wire they are plain strings. */
export const wireDecimal = (value: number) =>
  String(value) as unknown as NonNullable<Stripe.Price["unit_amount_decimal"]>;

export function requirePrice(ctx: ApiContext, id: string, param = "id"): Stripe.Price {
  const price = ctx.store.get(ctx.scope, "price", id);
  if (!price || deletedOf(ctx.store).has(id)) throw resourceMissing("price", id, param);
  return price;
}

function recurring(ctx: ApiContext): Stripe.Price.Recurring | null {
  const r = p.optObject(ctx.params, "recurring");
  if (r === undefined) return null;
  p.allowOnly(r, ["interval", "interval_count", "trial_period_days", "usage_type"]);
  const interval = p.optEnum(r, "interval", INTERVALS);
  if (interval === undefined) {
    throw paramError(
      "Missing required param: recurring[interval].",
      "recurring[interval]",
      "parameter_missing",
    );
  }
  const count = p.optInt(r, "interval_count") ?? 1;
  if (count < 1 || count * MAX_DAYS[interval] > 366) {
    const message =
      "Invalid recurring[interval_count]: the maximum interval is one year (1 year, 12 months, or 52 weeks).";
    throw paramError(message, "recurring[interval_count]");
  }
  const trial = p.optInt(r, "trial_period_days");
  if (trial !== undefined && (trial < 0 || trial > 730)) {
    throw paramError(
      "Invalid recurring[trial_period_days]: must be between 0 and 730.",
      "recurring[trial_period_days]",
    );
  }
  return {
    interval,
    interval_count: count,
    meter: null,
    trial_period_days: trial ?? null,
    usage_type: p.optEnum(r, "usage_type", ["licensed", "metered"]) ?? "licensed",
  };
}

function productFor(ctx: ApiContext): string {
  const productId = p.optString(ctx.params, "product");
  const data = p.optObject(ctx.params, "product_data");
  if ((productId === undefined) === (data === undefined)) {
    throw paramError(
      "You must specify exactly one of product or product_data.",
      "product",
      "parameter_missing",
    );
  }
  if (productId !== undefined) return requireProduct(ctx, productId, "product").id;
  p.allowOnly(data!, ["name", "active", "metadata"]);
  return newProduct(ctx, data!).id;
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    "currency",
    "product",
    "product_data",
    "unit_amount",
    "recurring",
    "active",
    "nickname",
    "metadata",
    "lookup_key",
    "tax_behavior",
    "expand",
  ]);
  const currency = parseCurrency(p.reqString(ctx.params, "currency")).code;
  const unitAmount = p.optInt(ctx.params, "unit_amount");
  if (unitAmount === undefined) {
    throw paramError("Missing required param: unit_amount.", "unit_amount", "parameter_missing");
  }
  if (unitAmount < 0 || unitAmount > 99_999_999) {
    throw paramError(
      "Invalid unit_amount: must be between 0 and 99999999.",
      "unit_amount",
      "parameter_invalid_integer",
    );
  }
  const rec = recurring(ctx);
  const price: Stripe.Price = {
    id: newId("price"),
    object: "price",
    active: p.optBool(ctx.params, "active") ?? true,
    billing_scheme: "per_unit",
    created: nowSeconds(),
    currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: p.optString(ctx.params, "lookup_key") ?? null,
    metadata: p.applyMetadata({}, ctx.params),
    nickname: p.optString(ctx.params, "nickname") ?? null,
    product: productFor(ctx),
    recurring: rec,
    tax_behavior:
      p.optEnum(ctx.params, "tax_behavior", ["exclusive", "inclusive", "unspecified"]) ?? "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: rec ? "recurring" : "one_time",
    unit_amount: unitAmount,
    unit_amount_decimal: wireDecimal(unitAmount),
  };
  ctx.store.insert(ctx.scope, "price", price);
  ctx.emit("price.created", price);
  return price;
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return requirePrice(ctx, pathParam(ctx, "id"));
}

/** Amount, currency and interval are fixed once created; Stripe lets only these change. */
function update(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["active", "nickname", "metadata", "lookup_key", "tax_behavior", "expand"]);
  const price = requirePrice(ctx, pathParam(ctx, "id"));
  const previous: Record<string, unknown> = {};
  const active = p.optBool(ctx.params, "active");
  if (active !== undefined && active !== price.active) {
    previous.active = price.active;
    price.active = active;
  }
  const nickname = p.optString(ctx.params, "nickname");
  if (nickname !== undefined && (nickname || null) !== price.nickname) {
    previous.nickname = price.nickname;
    price.nickname = nickname || null;
  }
  const metadata = p.applyMetadata(price.metadata, ctx.params);
  if (JSON.stringify(metadata) !== JSON.stringify(price.metadata)) {
    previous.metadata = price.metadata;
    price.metadata = metadata;
  }
  if (Object.keys(previous).length > 0) ctx.emit("price.updated", price, previous);
  return price;
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    ...LIST_PARAMS,
    "active",
    "currency",
    "product",
    "type",
    "created",
    "lookup_keys",
  ]);
  const active = p.optBool(ctx.params, "active");
  const currency = p.optString(ctx.params, "currency");
  const product = p.optString(ctx.params, "product");
  const type = p.optEnum(ctx.params, "type", ["one_time", "recurring"]);
  const keys = p.optStringArray(ctx.params, "lookup_keys");
  const created = rangeFilter(ctx.params, "created");
  const gone = deletedOf(ctx.store);
  return paginate(
    ctx.store.sequence(ctx.scope, "price"),
    ctx.params,
    "/v1/prices",
    "price",
    (x) =>
      !gone.has(x.id) &&
      (active === undefined || x.active === active) &&
      (currency === undefined || x.currency === currency) &&
      (product === undefined || x.product === product) &&
      (type === undefined || x.type === type) &&
      (keys === undefined || (x.lookup_key !== null && keys.includes(x.lookup_key))) &&
      created(x.created),
  );
}

/**
 * The Dashboard's delete: the API has no such call for prices, but Stripe sends `price.deleted`
 * when one is removed (a price deleted with its legacy plan). Subscriptions on it keep it.
 */
export function deletePrice(ctx: ApiContext, id: string): object {
  const price = requirePrice(ctx, id);
  deletedOf(ctx.store).add(id);
  ctx.emit("price.deleted", price);
  return { id, object: "price", deleted: true };
}

export const priceRoutes: Route[] = [
  { method: "POST", path: "/v1/prices", handler: create },
  { method: "GET", path: "/v1/prices", handler: list },
  { method: "GET", path: "/v1/prices/:id", handler: retrieve },
  { method: "POST", path: "/v1/prices/:id", handler: update },
];
