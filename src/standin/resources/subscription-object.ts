import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { newId } from "../ids.js";

declare module "../state.js" {
  interface ObjectTypes {
    subscription: Stripe.Subscription;
  }
}

/** The legacy Plan view Stripe still puts on every item, derived from its recurring price. */
function planOf(price: Stripe.Price): Stripe.Plan {
  const r = price.recurring!;
  return {
    id: price.id,
    object: "plan",
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: price.billing_scheme,
    created: price.created,
    currency: price.currency,
    interval: r.interval,
    interval_count: r.interval_count,
    livemode: false,
    metadata: price.metadata,
    meter: null,
    nickname: price.nickname,
    product: price.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: r.trial_period_days,
    usage_type: r.usage_type,
  };
}

export interface NewSubscription {
  customer: string;
  price: Stripe.Price;
  defaultPaymentMethod: string | null;
  metadata: Record<string, string>;
  description: string | null;
  now: number;
  periodEnd: number;
  trialEnd: number | null;
  cancelAtPeriodEnd: boolean;
}

/** A subscription of one item, its price embedded as Stripe embeds it; periods live on the item. */
export function buildSubscription(ctx: ApiContext, s: NewSubscription): Stripe.Subscription {
  const id = newId("sub");
  const item: Stripe.SubscriptionItem = {
    id: newId("si"),
    object: "subscription_item",
    billing_thresholds: null,
    created: s.now,
    current_period_end: s.periodEnd,
    current_period_start: s.now,
    current_trial: null,
    discounts: [],
    metadata: {},
    plan: planOf(s.price),
    price: structuredClone(s.price),
    quantity: 1,
    subscription: id,
    tax_rates: [],
  };
  const sub: Stripe.Subscription = {
    id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: s.trialEnd ?? s.now,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: s.cancelAtPeriodEnd ? s.periodEnd : null,
    cancel_at_period_end: s.cancelAtPeriodEnd,
    canceled_at: s.cancelAtPeriodEnd ? s.now : null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: "charge_automatically",
    created: s.now,
    currency: s.price.currency,
    customer: s.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: s.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: s.description,
    discounts: [],
    ended_at: null,
    invoice_settings: {
      account_tax_ids: null,
      custom_fields: null,
      description: null,
      footer: null,
      issuer: { type: "self" },
    },
    items: {
      object: "list",
      data: [item],
      has_more: false,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: s.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: "off",
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: s.now,
    status: s.trialEnd === null ? "incomplete" : "trialing",
    test_clock: null,
    transfer_data: null,
    trial_end: s.trialEnd,
    trial_settings: {
      end_behavior: { billing_cycle_anchor: null, missing_payment_method: "create_invoice" },
    },
    trial_start: s.trialEnd === null ? null : s.now,
  };
  return ctx.store.insert(ctx.scope, "subscription", sub);
}

export const itemOf = (sub: Stripe.Subscription): Stripe.SubscriptionItem => sub.items.data[0]!;
export const customerIdOf = (sub: Stripe.Subscription): string =>
  typeof sub.customer === "string" ? sub.customer : sub.customer.id;

/** What `previous_attributes` reports for a subscription: its top-level fields and the item periods. */
function watched(sub: Stripe.Subscription): Record<string, string> {
  const item = itemOf(sub);
  const fields = {
    status: sub.status,
    cancel_at: sub.cancel_at,
    cancel_at_period_end: sub.cancel_at_period_end,
    canceled_at: sub.canceled_at,
    ended_at: sub.ended_at,
    trial_end: sub.trial_end,
    latest_invoice: sub.latest_invoice,
    default_payment_method: sub.default_payment_method,
    metadata: sub.metadata,
    items: { current_period_start: item.current_period_start, current_period_end: item.current_period_end },
  };
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, JSON.stringify(v)]));
}

/**
 * Applies a change and reports it as Stripe does: one `customer.subscription.updated` (or the
 * given type) with the fields that changed as `previous_attributes`; nothing when nothing changed.
 */
export function changeSubscription(
  ctx: ApiContext,
  sub: Stripe.Subscription,
  mutate: (s: Stripe.Subscription) => void,
  type = "customer.subscription.updated",
): void {
  const before = watched(sub);
  mutate(sub);
  const after = watched(sub);
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(before)) {
    if (before[key] !== after[key]) previous[key] = JSON.parse(before[key]!) as unknown;
  }
  if (Object.keys(previous).length > 0 || type !== "customer.subscription.updated") {
    ctx.emit(type, sub, Object.keys(previous).length > 0 ? previous : undefined);
  }
}
