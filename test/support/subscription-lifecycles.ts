import type Stripe from "stripe";
import type { StripeEvent } from "../../src/standin/index.js";
import { queueForEvent } from "../../src/stripe/routing.js";
import { deliver } from "./events.js";
import { stripeFor } from "./stripe-client.js";
import {
  DAY_S,
  advanceClock,
  confirmSetup,
  customerOf,
  stripeSubscriptions,
  subscribe,
} from "./subscriptions.js";
import { eventually, type System } from "./system.js";

/**
 * Subscription lifecycles played for real at the stand-in with webhook delivery off, so a test
 * decides how, how often and in what order Stripe's events arrive. Each run is its own user,
 * customer and billing clock. The subscription is made by Coffer, as in production, from the
 * setup's `setup_intent.succeeded`, which is delivered once first; every event of the customer
 * from the card being saved on (that one included) is the run's.
 */
export interface Ctx {
  sys: System;
  stripe: Stripe;
  customer: string;
  sub: Stripe.Subscription;
}

export interface SubscriptionLifecycle {
  name: string;
  trialDays?: number;
  play(c: Ctx): Promise<void>;
}

const day = (c: Ctx, days: number) => advanceClock(c.sys, c.customer, days * DAY_S);
async function failingCard(c: Ctx): Promise<void> {
  const pm = await c.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: c.customer });
  await c.stripe.subscriptions.update(c.sub.id, { default_payment_method: pm.id });
}
async function payLatest(c: Ctx): Promise<void> {
  const good = await c.stripe.paymentMethods.attach("pm_card_visa", { customer: c.customer });
  const latest = (await c.stripe.subscriptions.retrieve(c.sub.id)).latest_invoice as string;
  await c.stripe.invoices.pay(latest, { payment_method: good.id });
}

export const SUBSCRIPTION_LIFECYCLES: SubscriptionLifecycle[] = [
  {
    name: "a trial that ends, then a paid renewal",
    trialDays: 14,
    play: async (c) => {
      await day(c, 11);
      await day(c, 3);
      await day(c, 31);
    },
  },
  {
    name: "a declined renewal, paid later",
    trialDays: 7,
    play: async (c) => {
      await day(c, 7);
      await failingCard(c);
      await day(c, 31);
      await payLatest(c);
    },
  },
  {
    name: "canceled at period end, and ended",
    trialDays: 7,
    play: async (c) => {
      await day(c, 7);
      await c.stripe.subscriptions.update(c.sub.id, { cancel_at_period_end: true });
      await day(c, 31);
    },
  },
  {
    name: "paused and resumed",
    play: async (c) => {
      await c.stripe.subscriptions.pause(c.sub.id);
      await day(c, 10);
      await c.stripe.subscriptions.resume(c.sub.id);
    },
  },
  {
    name: "declined at trial end, then canceled at once",
    trialDays: 3,
    play: async (c) => {
      await failingCard(c);
      await day(c, 3);
      await c.stripe.subscriptions.cancel(c.sub.id);
    },
  },
];

export interface SubscriptionRun {
  user: string;
  customer: string;
  subscriptionId: string;
  events: StripeEvent[];
}

/** Plays one run; returns its events (in Stripe's order), none of them delivered but the first. */
export async function playSubscriptionRun(
  sys: System,
  lc: SubscriptionLifecycle,
  priceId: string,
  user: string,
): Promise<SubscriptionRun> {
  const stripe = stripeFor(sys.standin);
  const setup = await subscribe(sys, user, priceId, `run-${user}`);
  if (setup.status !== 201) throw new Error(`subscribe: ${JSON.stringify(setup.body)}`);
  const customer = await customerOf(sys, user);
  const start = sys.standin.eventCount();
  await confirmSetup(sys, setup.body.setup_intent_id);
  const saved = sys.standin
    .events(start)
    .find(
      (e) =>
        e.type === "setup_intent.succeeded" &&
        (e.data.object as { id: string }).id === setup.body.setup_intent_id,
    )!;
  if ((await deliver(sys.url, JSON.stringify(saved))).status !== 200) throw new Error("delivery refused");
  const subs = await eventually(async () => (await stripeSubscriptions(sys, customer)).at(0), {
    what: `subscription of ${user}`,
  });
  const sub = subs!;
  await lc.play({ sys, stripe, customer, sub });
  const ours = (e: StripeEvent) => {
    const o = e.data.object as { customer?: unknown };
    return o.customer === customer;
  };
  const events = sys.standin.events(start).filter((e) => ours(e) && queueForEvent(e.type) !== null);
  return { user, customer, subscriptionId: sub.id, events };
}
