import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { StripeApiError, invalidRequest } from "../errors.js";
import { toJson } from "../expand.js";
import {
  TRIAL_WILL_END_LEAD_S,
  addIntervals,
  billingNow,
  intervalSeconds,
  setBillingNow,
} from "./billing-clock.js";
import { attemptPayment, openInvoice, paymentMethodFor } from "./invoice-flow.js";
import {
  buildSubscription,
  changeSubscription,
  customerIdOf,
  itemOf,
  type NewSubscription,
} from "./subscription-object.js";

const unitAmount = (sub: Stripe.Subscription) => itemOf(sub).price.unit_amount ?? 0;
const recurringOf = (sub: Stripe.Subscription) => itemOf(sub).price.recurring!;

/** Statuses in which time moves a subscription on (trial end, renewal, cancellation at period end). */
const RUNNING: readonly Stripe.Subscription.Status[] = ["trialing", "active", "past_due", "unpaid"];

/** The end of the period that contains `t`, counted from the billing cycle anchor. */
function periodEndAfter(sub: Stripe.Subscription, t: number): number {
  const { interval, interval_count } = recurringOf(sub);
  let k = 1;
  while (addIntervals(sub.billing_cycle_anchor, interval, interval_count, k) <= t) k++;
  return addIntervals(sub.billing_cycle_anchor, interval, interval_count, k);
}

/**
 * Creates a subscription the way Stripe bills it. With a trial: `trialing`, a paid invoice for 0,
 * and `trial_will_end` at once when the trial is under three days. Without: `incomplete`, the first
 * invoice charged off-session, then `active` (paid) or left `incomplete` (declined; with
 * `error_if_incomplete` Stripe refuses the create instead, 402).
 */
export function startSubscription(
  ctx: ApiContext,
  s: NewSubscription,
  errorIfIncomplete: boolean,
): Stripe.Subscription {
  const sub = buildSubscription(ctx, s);
  ctx.emit("customer.subscription.created", sub);
  if (s.trialEnd !== null) {
    const invoice = openInvoice(ctx, sub, "subscription_create", { start: s.now, end: s.trialEnd }, 0);
    sub.latest_invoice = invoice.id;
    attemptPayment(ctx, invoice, undefined);
    if (s.trialEnd - TRIAL_WILL_END_LEAD_S <= s.now) ctx.emit("customer.subscription.trial_will_end", sub);
    return sub;
  }
  const invoice = openInvoice(
    ctx,
    sub,
    "subscription_create",
    { start: s.now, end: s.periodEnd },
    unitAmount(sub),
  );
  sub.latest_invoice = invoice.id;
  if (attemptPayment(ctx, invoice, paymentMethodFor(ctx, sub))) {
    changeSubscription(ctx, sub, (x) => void (x.status = "active"));
  } else if (errorIfIncomplete) {
    throw new StripeApiError(402, {
      type: "card_error",
      code: "card_declined",
      message: "Your card was declined.",
      subscription: toJson(sub),
    });
  }
  return sub;
}

/** After an invoice of the subscription was paid later (`POST /v1/invoices/:id/pay`): active again. */
export function afterInvoicePaid(ctx: ApiContext, sub: Stripe.Subscription, invoiceId: string): void {
  if (sub.latest_invoice !== invoiceId) return;
  if (!["past_due", "unpaid", "incomplete"].includes(sub.status)) return;
  changeSubscription(ctx, sub, (x) => void (x.status = "active"));
}

/**
 * A period (or trial) ends at `t`: a subscription set to cancel at period end is canceled
 * (`customer.subscription.deleted`); any other starts its next period with an invoice, becomes
 * `active` when the trial is over, and `past_due` if the charge is declined.
 */
function endPeriod(ctx: ApiContext, sub: Stripe.Subscription, t: number): void {
  if (sub.cancel_at_period_end) {
    changeSubscription(
      ctx,
      sub,
      (x) => {
        x.status = "canceled";
        x.ended_at = t;
      },
      "customer.subscription.deleted",
    );
    return;
  }
  const end = periodEndAfter(sub, t);
  const invoice = openInvoice(ctx, sub, "subscription_cycle", { start: t, end }, unitAmount(sub));
  changeSubscription(ctx, sub, (x) => {
    const item = itemOf(x);
    item.current_period_start = t;
    item.current_period_end = end;
    item.current_trial = null;
    x.latest_invoice = invoice.id;
    if (x.status === "trialing") x.status = "active";
  });
  const paid = attemptPayment(ctx, invoice, paymentMethodFor(ctx, sub));
  changeSubscription(ctx, sub, (x) => void (x.status = paid ? "active" : "past_due"));
}

type Due = { at: number; sub: Stripe.Subscription; kind: "trial_will_end" | "period_end" };

function dueOf(sub: Stripe.Subscription): Due[] {
  if (!RUNNING.includes(sub.status)) return [];
  const due: Due[] = [{ at: itemOf(sub).current_period_end, sub, kind: "period_end" }];
  if (sub.status === "trialing" && sub.trial_end !== null)
    due.push({ at: sub.trial_end - TRIAL_WILL_END_LEAD_S, sub, kind: "trial_will_end" });
  return due;
}

/**
 * Advances a customer's clock to `to`, running every trial end, renewal and cancellation due on
 * the way in time order, each at its own time, with its events. Stripe refuses a target before
 * the clock, and one more than two intervals past it for the shortest subscription.
 */
export function advanceCustomerClock(ctx: ApiContext, customerId: string, to: number): number {
  const from = billingNow(ctx.store, customerId);
  if (to <= from)
    throw invalidRequest(`The frozen_time must be after the current frozen time (${from}).`, {
      param: "frozen_time",
    });
  const subs = ctx.store.list(ctx.scope, "subscription", (s) => customerIdOf(s) === customerId);
  const shortest = Math.min(
    ...subs
      .filter((s) => RUNNING.includes(s.status))
      .map((s) => intervalSeconds(recurringOf(s).interval, recurringOf(s).interval_count)),
  );
  if (Number.isFinite(shortest) && to - from > 2 * shortest) {
    throw invalidRequest(
      "Cannot advance more than two intervals past the shortest subscription of this clock.",
      { param: "frozen_time" },
    );
  }
  for (let now = from; ;) {
    const next = subs
      .flatMap(dueOf)
      .filter((d) => d.at > now && d.at <= to)
      .sort((a, b) => a.at - b.at)[0];
    if (!next) break;
    now = next.at;
    setBillingNow(ctx.store, customerId, now);
    if (next.kind === "trial_will_end") ctx.emit("customer.subscription.trial_will_end", next.sub);
    else endPeriod(ctx, next.sub, now);
  }
  setBillingNow(ctx.store, customerId, to);
  return to;
}

/**
 * Sets or clears cancellation at the end of the period; `canceled_at` is the time of the request,
 * as Stripe reports it. Setting what is already set changes nothing (and reports nothing).
 */
export function applyCancelAtPeriodEnd(x: Stripe.Subscription, cancel: boolean, now: number): void {
  if (x.cancel_at_period_end === cancel) return;
  x.cancel_at_period_end = cancel;
  x.cancel_at = cancel ? itemOf(x).current_period_end : null;
  x.canceled_at = cancel ? now : null;
}

/** Cancels at once: `customer.subscription.deleted`. */
export function cancelNow(ctx: ApiContext, sub: Stripe.Subscription): void {
  const now = billingNow(ctx.store, customerIdOf(sub));
  changeSubscription(
    ctx,
    sub,
    (x) => {
      x.status = "canceled";
      x.canceled_at = now;
      x.ended_at = now;
    },
    "customer.subscription.deleted",
  );
}

/** Pausing moves the subscription to `paused`: no invoices and no new periods until resumed. */
export function pauseSubscription(ctx: ApiContext, sub: Stripe.Subscription): void {
  const was = sub.status;
  if (!RUNNING.includes(was)) throw invalidRequest(`A subscription with status ${was} cannot be paused.`);
  changeSubscription(ctx, sub, (x) => void (x.status = "paused"), "customer.subscription.paused");
  ctx.emit("customer.subscription.updated", sub, { status: was });
}

/**
 * Resuming: `billing_cycle_anchor=now` (Stripe's default) starts a new period now with its
 * invoice; `unchanged` keeps the period and bills nothing now.
 */
export function resumeSubscription(ctx: ApiContext, sub: Stripe.Subscription, anchorNow: boolean): void {
  if (sub.status !== "paused") throw invalidRequest("Only a paused subscription can be resumed.");
  const now = billingNow(ctx.store, customerIdOf(sub));
  changeSubscription(ctx, sub, (x) => void (x.status = "active"), "customer.subscription.resumed");
  if (!anchorNow) {
    ctx.emit("customer.subscription.updated", sub, { status: "paused" });
    return;
  }
  sub.billing_cycle_anchor = now;
  const end = periodEndAfter(sub, now);
  const invoice = openInvoice(ctx, sub, "subscription_cycle", { start: now, end }, unitAmount(sub));
  changeSubscription(ctx, sub, (x) => {
    itemOf(x).current_period_start = now;
    itemOf(x).current_period_end = end;
    x.latest_invoice = invoice.id;
  });
  if (!attemptPayment(ctx, invoice, paymentMethodFor(ctx, sub)))
    changeSubscription(ctx, sub, (x) => void (x.status = "past_due"));
}
