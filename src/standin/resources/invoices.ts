import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { StripeApiError, invalidRequest, paramError } from "../errors.js";
import { toJson } from "../expand.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { attemptPayment, paymentMethodFor } from "./invoice-flow.js";
import { afterInvoicePaid } from "./subscription-flow.js";

const subscriptionOf = (inv: Stripe.Invoice): string | undefined => {
  const s = inv.parent?.subscription_details?.subscription;
  return typeof s === "string" ? s : s?.id;
};

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "invoice", pathParam(ctx, "id"));
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    ...LIST_PARAMS,
    "customer",
    "subscription",
    "status",
    "created",
    "collection_method",
  ]);
  const customer = p.optString(ctx.params, "customer");
  const subscription = p.optString(ctx.params, "subscription");
  const status = p.optEnum(ctx.params, "status", ["draft", "open", "paid", "uncollectible", "void"]);
  const created = rangeFilter(ctx.params, "created");
  return paginate(
    ctx.store.sequence(ctx.scope, "invoice"),
    ctx.params,
    "/v1/invoices",
    "invoice",
    (i) =>
      (customer === undefined || i.customer === customer) &&
      (subscription === undefined || subscriptionOf(i) === subscription) &&
      (status === undefined || i.status === status) &&
      created(i.created),
  );
}

/**
 * Pays an open invoice now, with the given card (it must belong to the invoice's customer) or
 * the subscription's default; a decline is Stripe's 402 and leaves the invoice open. A paid
 * invoice brings its past-due subscription back to `active`.
 */
function pay(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["payment_method", "off_session", "paid_out_of_band", "expand"]);
  const invoice = ctx.store.require(ctx.scope, "invoice", pathParam(ctx, "id"));
  if (invoice.status !== "open") {
    throw invalidRequest(
      `Invoice is ${invoice.status === "paid" ? "already paid" : `${invoice.status}; only an open invoice can be paid`}.`,
      {
        code: "invoice_not_open",
      },
    );
  }
  const subId = subscriptionOf(invoice);
  const sub = subId === undefined ? undefined : ctx.store.get(ctx.scope, "subscription", subId);
  const pmId = p.optString(ctx.params, "payment_method");
  let pm = sub ? paymentMethodFor(ctx, sub) : undefined;
  if (pmId !== undefined) {
    pm = ctx.store.get(ctx.scope, "payment_method", pmId);
    if (!pm || pm.customer !== invoice.customer) {
      throw paramError(
        `The PaymentMethod ${pmId} does not belong to the invoice's customer.`,
        "payment_method",
        "resource_missing",
      );
    }
  }
  const outOfBand = p.optBool(ctx.params, "paid_out_of_band") ?? false;
  if (!outOfBand && !attemptPayment(ctx, invoice, pm)) {
    throw new StripeApiError(402, {
      type: "card_error",
      code: "card_declined",
      decline_code: "generic_decline",
      message: "Your card was declined.",
      invoice: toJson(invoice),
    });
  }
  if (outOfBand) {
    invoice.status = "paid";
    invoice.amount_remaining = 0;
    ctx.emit("invoice.paid", invoice);
  }
  if (sub) afterInvoicePaid(ctx, sub, invoice.id);
  return invoice;
}

export const invoiceRoutes: Route[] = [
  { method: "GET", path: "/v1/invoices", handler: list },
  { method: "GET", path: "/v1/invoices/:id", handler: retrieve },
  { method: "POST", path: "/v1/invoices/:id/pay", handler: pay },
];
