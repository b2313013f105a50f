import { z } from "zod";
import type { PlanRow } from "../db/stores/plans.js";
import type { SetupRow } from "../db/stores/subscription-setups.js";
import type { SubscriptionRow } from "../db/stores/subscriptions.js";

/**
 * Billing's API shapes (SPEC → Subscriptions), as present.ts does it: a zod schema per response
 * object, named for /openapi.json, and the presenter it types.
 */
const currency = z.string().meta({ description: "Lowercase ISO 4217 code" });

export const Plan = z
  .object({
    price_id: z
      .string()
      .meta({ description: "Stripe's Price (`price_…`): what POST /v1/subscriptions takes" }),
    product_id: z.string(),
    name: z.string().meta({ description: "The product's name" }),
    unit_amount_minor: z
      .int()
      .nullable()
      .meta({ description: "Charged by Stripe per period, in minor units" }),
    currency,
    interval: z.enum(["day", "week", "month", "year"]),
    interval_count: z.int().min(1),
    trial_period_days: z.int().min(0).nullable(),
  })
  .meta({ id: "Plan" });

export const presentPlan = (p: PlanRow): z.output<typeof Plan> => ({
  price_id: p.price_id,
  product_id: p.product_id,
  name: p.name,
  unit_amount_minor: p.unit_amount_minor,
  currency: p.currency,
  interval: p.interval as z.output<typeof Plan>["interval"],
  interval_count: p.interval_count ?? 1,
  trial_period_days: p.trial_period_days,
});

const timestamp = z.iso.datetime();
const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export const CreatedSubscriptionSetup = z
  .object({
    id: z
      .string()
      .meta({ description: "Coffer's setup (`sset_…`); the subscription names it as `setup_id`" }),
    setup_intent_id: z.string().nullable(),
    client_secret: z.string().nullable().meta({
      description:
        "For Stripe.js confirmCardSetup: the browser saves the card, with 3-D Secure when the bank asks",
    }),
    status: z
      .string()
      .meta({ description: "The SetupIntent's status when made (`requires_payment_method`)" }),
  })
  .meta({ id: "CreatedSubscriptionSetup" });

export const presentCreatedSetup = (s: SetupRow): z.output<typeof CreatedSubscriptionSetup> => ({
  id: s.id,
  setup_intent_id: s.setup_intent_id,
  client_secret: s.client_secret,
  status: s.status,
});

export const Subscription = z
  .object({
    id: z.string().meta({ description: "Stripe's subscription (`sub_…`)" }),
    setup_id: z
      .string()
      .nullable()
      .meta({ description: "The POST /v1/subscriptions setup it was made from" }),
    price_id: z.string(),
    status: z.string().meta({
      description:
        "Stripe's: trialing, active, past_due, unpaid, paused, incomplete, incomplete_expired or canceled",
    }),
    current_period_start: timestamp.nullable(),
    current_period_end: timestamp.nullable(),
    cancel_at_period_end: z.boolean(),
    canceled_at: timestamp.nullable().meta({ description: "When cancellation was asked for (or happened)" }),
    ended_at: timestamp.nullable(),
    trial_end: timestamp.nullable(),
    latest_invoice: z
      .object({
        id: z.string(),
        status: z.string().nullable().meta({ description: "Stripe's: open, paid, …" }),
      })
      .nullable()
      .meta({
        description:
          "Stripe's latest_invoice: the newest invoice the subscription generated (by its created), not the one last paid; an older invoice paid late leaves it",
      }),
    created_at: timestamp,
  })
  .meta({ id: "Subscription" });

export const presentSubscription = (s: SubscriptionRow): z.output<typeof Subscription> => ({
  id: s.id,
  setup_id: s.setup_id,
  price_id: s.price_id,
  status: s.status,
  current_period_start: iso(s.current_period_start),
  current_period_end: iso(s.current_period_end),
  cancel_at_period_end: s.cancel_at_period_end,
  canceled_at: iso(s.canceled_at),
  ended_at: iso(s.ended_at),
  trial_end: iso(s.trial_end),
  latest_invoice:
    s.latest_invoice_id === null ? null : { id: s.latest_invoice_id, status: s.latest_invoice_status },
  created_at: s.created_at.toISOString(),
});
