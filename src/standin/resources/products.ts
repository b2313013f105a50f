import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { invalidRequest, resourceMissing } from "../errors.js";
import { newId, nowSeconds } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import type { FormObject } from "../form.js";
import * as p from "../params.js";
import type { Store } from "../state.js";

declare module "../state.js" {
  interface ObjectTypes {
    product: Stripe.Product;
  }
}

/** Deleted products stay in the store (ids are never reused) but Stripe no longer finds them. */
const deleted = new WeakMap<Store, Set<string>>();
const deletedOf = (store: Store) => deleted.get(store) ?? deleted.set(store, new Set()).get(store)!;

const WRITABLE = ["name", "active", "description", "metadata", "url", "expand"] as const;

/** A product of this account that was not deleted, or Stripe's 404. */
export function requireProduct(ctx: ApiContext, id: string, param = "id"): Stripe.Product {
  const product = ctx.store.get(ctx.scope, "product", id);
  if (!product || deletedOf(ctx.store).has(id)) throw resourceMissing("product", id, param);
  return product;
}

/** The product fields a price's `product_data` or a product create may set. */
export function newProduct(ctx: ApiContext, params: FormObject): Stripe.Product {
  const now = nowSeconds();
  const product: Stripe.Product = {
    id: newId("prod"),
    object: "product",
    active: p.optBool(params, "active") ?? true,
    created: now,
    default_price: null,
    description: p.optString(params, "description") ?? null,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: p.applyMetadata({}, params),
    name: p.reqString(params, "name"),
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: "service",
    unit_label: null,
    updated: now,
    url: p.optString(params, "url") ?? null,
  };
  ctx.store.insert(ctx.scope, "product", product);
  ctx.emit("product.created", product);
  return product;
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, WRITABLE);
  return newProduct(ctx, ctx.params);
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return requireProduct(ctx, pathParam(ctx, "id"));
}

/** Renaming or archiving: one product.updated with the fields that changed as previous_attributes. */
function update(ctx: ApiContext): object {
  p.allowOnly(ctx.params, WRITABLE);
  const product = requireProduct(ctx, pathParam(ctx, "id"));
  const previous: Record<string, unknown> = {};
  const set = <K extends "name" | "active" | "description" | "url">(key: K, value: Stripe.Product[K]) => {
    if (product[key] === value) return;
    previous[key] = product[key];
    product[key] = value;
  };
  const name = p.optString(ctx.params, "name");
  if (name !== undefined) {
    if (name === "") throw invalidRequest("You must supply a name for the product.", { param: "name" });
    set("name", name);
  }
  const active = p.optBool(ctx.params, "active");
  if (active !== undefined) set("active", active);
  const description = p.optString(ctx.params, "description");
  if (description !== undefined) set("description", description === "" ? null : description);
  const url = p.optString(ctx.params, "url");
  if (url !== undefined) set("url", url === "" ? null : url);
  const metadata = p.applyMetadata(product.metadata, ctx.params);
  if (JSON.stringify(metadata) !== JSON.stringify(product.metadata)) {
    previous.metadata = product.metadata;
    product.metadata = metadata;
  }
  if (Object.keys(previous).length > 0) {
    product.updated = nowSeconds();
    ctx.emit("product.updated", product, previous);
  }
  return product;
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "active", "created", "ids"]);
  const active = p.optBool(ctx.params, "active");
  const created = rangeFilter(ctx.params, "created");
  const ids = p.optStringArray(ctx.params, "ids");
  const gone = deletedOf(ctx.store);
  return paginate(
    ctx.store.sequence(ctx.scope, "product"),
    ctx.params,
    "/v1/products",
    "product",
    (x) =>
      !gone.has(x.id) &&
      (active === undefined || x.active === active) &&
      created(x.created) &&
      (ids === undefined || ids.includes(x.id)),
  );
}

/** Stripe deletes only a product that never had a price; others can only be archived. */
function remove(ctx: ApiContext): object {
  p.allowOnly(ctx.params, []);
  const product = requireProduct(ctx, pathParam(ctx, "id"));
  if (ctx.store.list(ctx.scope, "price", (x) => x.product === product.id).length > 0) {
    throw invalidRequest("This product cannot be deleted because it has one or more user-created prices.");
  }
  deletedOf(ctx.store).add(product.id);
  ctx.emit("product.deleted", product);
  return { id: product.id, object: "product", deleted: true };
}

export const productRoutes: Route[] = [
  { method: "POST", path: "/v1/products", handler: create },
  { method: "GET", path: "/v1/products", handler: list },
  { method: "GET", path: "/v1/products/:id", handler: retrieve },
  { method: "POST", path: "/v1/products/:id", handler: update },
  { method: "DELETE", path: "/v1/products/:id", handler: remove },
];
