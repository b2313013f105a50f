import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { invalidRequest, paramError } from "../errors.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { addIntervals, billingNow } from "./billing-clock.js";
import { requirePrice } from "./prices.js";
import { changeSubscription, customerIdOf } from "./subscription-object.js";
import {
  advanceCustomerClock,
  applyCancelAtPeriodEnd,
  cancelNow,
  pauseSubscription,
  resumeSubscription,
  startSubscription,
} from "./subscription-flow.js";

const ENDED: readonly string[] = ["canceled", "incomplete_expired"];

/** One item with a recurring, active price: the stand-in bills single-item subscriptions only. */
function itemPrice(ctx: ApiContext): Stripe.Price {
  const items = ctx.params.items;
  if (items === undefined) throw paramError("Missing required param: items.", "items", "parameter_missing");
  if (!Array.isArray(items) || items.length === 0) throw paramError("Invalid array", "items");
  if (items.length > 1) throw paramError("Stand-in: only one subscription item is supported.", "items");
  const item = items[0];
  if (typeof item !== "object" || Array.isArray(item)) throw paramError("Invalid object", "items[0]");
  p.allowOnly(item, ["price", "quantity", "metadata"]);
  if ((p.optInt(item, "quantity") ?? 1) !== 1)
    throw paramError("Stand-in: quantity must be 1.", "items[0][quantity]");
  const price = requirePrice(ctx, p.reqString(item, "price"), "items[0][price]");
  if (!price.active) {
    throw paramError(
      "The price specified is inactive. This field only accepts active prices.",
      "items[0][price]",
    );
  }
  if (price.type !== "recurring") {
    const message =
      "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.";
    throw paramError(message, "items[0][price]");
  }
  return price;
}

function trialEnd(ctx: ApiContext, price: Stripe.Price, now: number): number | null {
  const end = p.optString(ctx.params, "trial_end");
  const days = p.optInt(ctx.params, "trial_period_days");
  const fromPlan = p.optBool(ctx.params, "trial_from_plan") ?? false;
  if ([end !== undefined, days !== undefined, fromPlan].filter(Boolean).length > 1) {
    throw paramError(
      "You may only specify one of trial_end, trial_period_days and trial_from_plan.",
      "trial_end",
    );
  }
  if (end !== undefined && end !== "now") {
    const at = p.optInt(ctx.params, "trial_end")!;
    if (at <= now)
      throw paramError("Invalid timestamp: must be an integer Unix timestamp in the future.", "trial_end");
    return at;
  }
  const trialDays = days ?? (fromPlan ? (price.recurring!.trial_period_days ?? 0) : 0);
  if (trialDays < 0 || trialDays > 730)
    throw paramError("trial_period_days must be between 0 and 730.", "trial_period_days");
  return trialDays > 0 ? now + trialDays * 86_400 : null;
}

function defaultPaymentMethod(ctx: ApiContext, customerId: string): string | null {
  const id = p.optString(ctx.params, "default_payment_method");
  if (id === undefined) return null;
  const pm = ctx.store.get(ctx.scope, "payment_method", id);
  if (!pm || pm.customer !== customerId) {
    const message = `The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`;
    throw paramError(message, "default_payment_method", "resource_missing");
  }
  return id;
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    "customer",
    "items",
    "default_payment_method",
    "metadata",
    "description",
    "trial_end",
    "trial_period_days",
    "trial_from_plan",
    "off_session",
    "payment_behavior",
    "cancel_at_period_end",
    "expand",
  ]);
  const customer = ctx.store.require(ctx.scope, "customer", p.reqString(ctx.params, "customer"), "customer");
  const price = itemPrice(ctx);
  const behavior = p.optEnum(ctx.params, "payment_behavior", ["allow_incomplete", "error_if_incomplete"]);
  const now = billingNow(ctx.store, customer.id);
  const trial = trialEnd(ctx, price, now);
  const { interval, interval_count } = price.recurring!;
  return startSubscription(
    ctx,
    {
      customer: customer.id,
      price,
      defaultPaymentMethod: defaultPaymentMethod(ctx, customer.id),
      metadata: p.applyMetadata({}, ctx.params),
      description: p.optString(ctx.params, "description") ?? null,
      now,
      periodEnd: trial ?? addIntervals(now, interval, interval_count, 1),
      trialEnd: trial,
      cancelAtPeriodEnd: p.optBool(ctx.params, "cancel_at_period_end") ?? false,
    },
    behavior === "error_if_incomplete",
  );
}

function requireSubscription(ctx: ApiContext): Stripe.Subscription {
  return ctx.store.require(ctx.scope, "subscription", pathParam(ctx, "id"));
}

function requireOpen(sub: Stripe.Subscription): void {
  if (ENDED.includes(sub.status)) {
    throw invalidRequest(`A canceled subscription can only update its cancellation_details and metadata.`);
  }
}

function update(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    "cancel_at_period_end",
    "default_payment_method",
    "metadata",
    "description",
    "trial_end",
    "proration_behavior",
    "expand",
  ]);
  const sub = requireSubscription(ctx);
  const cancel = p.optBool(ctx.params, "cancel_at_period_end");
  const pm = p.optString(ctx.params, "default_payment_method");
  const trial = p.optString(ctx.params, "trial_end");
  if (cancel !== undefined || pm !== undefined || trial !== undefined) requireOpen(sub);
  const paymentMethod = pm === undefined ? undefined : defaultPaymentMethod(ctx, customerIdOf(sub));
  const description = p.optString(ctx.params, "description");
  const now = billingNow(ctx.store, customerIdOf(sub));
  changeSubscription(ctx, sub, (x) => {
    x.metadata = p.applyMetadata(x.metadata, ctx.params);
    if (paymentMethod !== undefined) x.default_payment_method = paymentMethod;
    if (description !== undefined) x.description = description || null;
    if (cancel !== undefined) applyCancelAtPeriodEnd(x, cancel, now);
  });
  if (trial === "now" && sub.status === "trialing") {
    // Ending a trial now: trial_will_end at once, then the first paid period starts.
    sub.trial_end = now;
    sub.items.data[0]!.current_period_end = now;
    sub.billing_cycle_anchor = now;
    ctx.emit("customer.subscription.trial_will_end", sub);
    advanceCustomerClock(ctx, customerIdOf(sub), now + 1);
  } else if (trial !== undefined)
    throw paramError("Stand-in: only trial_end=now is supported on update.", "trial_end");
  return sub;
}

function cancel(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["invoice_now", "prorate", "cancellation_details", "expand"]);
  const sub = requireSubscription(ctx);
  requireOpen(sub);
  cancelNow(ctx, sub);
  return sub;
}

function pause(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["type", "invoicing_behavior", "bill_for", "expand"]);
  const sub = requireSubscription(ctx);
  pauseSubscription(ctx, sub);
  return sub;
}

function resume(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    "billing_cycle_anchor",
    "payment_behavior",
    "proration_behavior",
    "proration_date",
    "expand",
  ]);
  const sub = requireSubscription(ctx);
  const anchor = p.optEnum(ctx.params, "billing_cycle_anchor", ["now", "unchanged"]) ?? "now";
  resumeSubscription(ctx, sub, anchor === "now");
  return sub;
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return requireSubscription(ctx);
}

/** By default Stripe lists subscriptions that have not ended; `status=all` lists every one. */
function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "customer", "price", "status", "created"]);
  const customer = p.optString(ctx.params, "customer");
  const price = p.optString(ctx.params, "price");
  const status = p.optEnum(ctx.params, "status", [
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
  ]);
  const created = rangeFilter(ctx.params, "created");
  const statusOk = (s: string) =>
    status === "all" ||
    (status === undefined ? !ENDED.includes(s) : status === "ended" ? ENDED.includes(s) : s === status);
  return paginate(
    ctx.store.sequence(ctx.scope, "subscription"),
    ctx.params,
    "/v1/subscriptions",
    "subscription",
    (s) =>
      statusOk(s.status) &&
      (customer === undefined || customerIdOf(s) === customer) &&
      (price === undefined || s.items.data.some((i) => i.price.id === price)) &&
      created(s.created),
  );
}

export const subscriptionRoutes: Route[] = [
  { method: "POST", path: "/v1/subscriptions", handler: create },
  { method: "GET", path: "/v1/subscriptions", handler: list },
  { method: "GET", path: "/v1/subscriptions/:id", handler: retrieve },
  { method: "POST", path: "/v1/subscriptions/:id", handler: update },
  { method: "DELETE", path: "/v1/subscriptions/:id", handler: cancel },
  { method: "POST", path: "/v1/subscriptions/:id/pause", handler: pause },
  { method: "POST", path: "/v1/subscriptions/:id/resume", handler: resume },
];
