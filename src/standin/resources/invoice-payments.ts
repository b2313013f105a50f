import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { paramError } from "../errors.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "invoice_payment", pathParam(ctx, "id"));
}

/**
 * `GET /v1/invoice_payments`: by `invoice`, `status`, `created`, and `payment[type]` (required
 * when `payment` is given, as Stripe requires it) with `payment[payment_intent]`: how a
 * PaymentIntent or Charge is traced to its invoice on this API version.
 */
function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "invoice", "payment", "status", "created"]);
  const invoice = p.optString(ctx.params, "invoice");
  const status = p.optEnum(ctx.params, "status", ["canceled", "open", "paid"]);
  const created = rangeFilter(ctx.params, "created");
  const payment = p.optObject(ctx.params, "payment");
  if (payment !== undefined) {
    p.allowOnly(payment, ["type", "payment_intent", "payment_record"]);
    if (p.optString(payment, "type") === undefined) {
      throw paramError("Missing required param: payment[type].", "payment[type]", "parameter_missing");
    }
  }
  const type =
    payment === undefined ? undefined : p.optEnum(payment, "type", ["payment_intent", "payment_record"]);
  const pi = payment === undefined ? undefined : p.optString(payment, "payment_intent");
  return paginate(
    ctx.store.sequence(ctx.scope, "invoice_payment"),
    ctx.params,
    "/v1/invoice_payments",
    "invoice_payment",
    (ip) =>
      (invoice === undefined || ip.invoice === invoice) &&
      (status === undefined || ip.status === status) &&
      created(ip.created) &&
      (type === undefined || ip.payment.type === type) &&
      (pi === undefined || ip.payment.payment_intent === pi),
  );
}

export const invoicePaymentRoutes: Route[] = [
  { method: "GET", path: "/v1/invoice_payments", handler: list },
  { method: "GET", path: "/v1/invoice_payments/:id", handler: retrieve },
];
