import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { paramError } from "../errors.js";
import { newId, nowSeconds, randomBase62 } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { attachPaymentMethod, createCardPaymentMethod, resolveBillingCard } from "./billing-cards.js";

declare module "../state.js" {
  interface ObjectTypes {
    customer: Stripe.Customer;
  }
}

const WRITABLE = ["metadata", "email", "name", "description", "phone", "invoice_settings", "expand"] as const;

/** `invoice_settings[default_payment_method]` must name a PaymentMethod attached to this customer. */
function applyWritable(ctx: ApiContext, c: Stripe.Customer): void {
  c.metadata = p.applyMetadata(c.metadata, ctx.params);
  for (const field of ["email", "name", "description", "phone"] as const) {
    const v = p.optString(ctx.params, field);
    if (v !== undefined) c[field] = v === "" ? null : v;
  }
  const settings = p.optObject(ctx.params, "invoice_settings");
  if (settings === undefined) return;
  p.allowOnly(settings, ["default_payment_method"]);
  const pmId = p.optString(settings, "default_payment_method");
  if (pmId === undefined) return;
  const pm = ctx.store.get(ctx.scope, "payment_method", pmId);
  if (!pm || pm.customer !== c.id) {
    const message = `No such PaymentMethod: '${pmId}'; it must be attached to customer ${c.id} first.`;
    throw paramError(message, "invoice_settings[default_payment_method]", "resource_missing");
  }
  c.invoice_settings.default_payment_method = pmId;
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, WRITABLE);
  const customer: Stripe.Customer = {
    id: newId("cus"),
    object: "customer",
    address: null,
    balance: 0,
    created: nowSeconds(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: null,
    invoice_prefix: randomBase62(8).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: {},
    name: null,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: null,
  };
  applyWritable(ctx, customer);
  ctx.store.insert(ctx.scope, "customer", customer);
  ctx.emit("customer.created", customer);
  return customer;
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "customer", pathParam(ctx, "id"));
}

function update(ctx: ApiContext): object {
  p.allowOnly(ctx.params, WRITABLE);
  const customer = ctx.store.require(ctx.scope, "customer", pathParam(ctx, "id"));
  const before = JSON.stringify(customer);
  applyWritable(ctx, customer);
  if (JSON.stringify(customer) !== before) ctx.emit("customer.updated", customer);
  return customer;
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "created", "email"]);
  const created = rangeFilter(ctx.params, "created");
  const email = p.optString(ctx.params, "email");
  return paginate(
    ctx.store.sequence(ctx.scope, "customer"),
    ctx.params,
    "/v1/customers",
    "customer",
    (c) => created(c.created) && (email === undefined || c.email === email),
  );
}

/** A test token attaches as a new PaymentMethod (Stripe's test mode does the same). */
function attach(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["customer", "expand"]);
  const customer = ctx.store.require(ctx.scope, "customer", p.reqString(ctx.params, "customer"), "customer");
  const { token, saved } = resolveBillingCard(ctx, pathParam(ctx, "id"), "payment_method");
  const pm = saved ?? createCardPaymentMethod(ctx, token!);
  if (pm.customer !== null && pm.customer !== customer.id) {
    const message = "The payment method you provided has already been attached to a customer.";
    throw paramError(message, "payment_method", "payment_method_unexpected_state");
  }
  attachPaymentMethod(ctx, pm, customer.id);
  return pm;
}

function retrievePaymentMethod(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "payment_method", pathParam(ctx, "id"), "payment_method");
}

export const customerRoutes: Route[] = [
  { method: "POST", path: "/v1/customers", handler: create },
  { method: "GET", path: "/v1/customers", handler: list },
  { method: "GET", path: "/v1/customers/:id", handler: retrieve },
  { method: "POST", path: "/v1/customers/:id", handler: update },
  { method: "POST", path: "/v1/payment_methods/:id/attach", handler: attach },
  { method: "GET", path: "/v1/payment_methods/:id", handler: retrievePaymentMethod },
];
