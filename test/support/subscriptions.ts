/* eslint-disable @typescript-eslint/no-explicit-any -- test client: bodies are asserted field by field */
import type Stripe from "stripe";
import { controlCall } from "../../src/standin/client.js";
import { HARNESS_API_KEY } from "../../src/standin/index.js";
import { api } from "./api.js";
import { stripeFor } from "./stripe-client.js";
import { eventually, type System } from "./system.js";

/**
 * Subscriptions as a test plays them: plans made at the stand-in (Stripe's Dashboard) and
 * mirrored by their webhooks, the user subscribing through the API, the browser saving the card
 * (the stand-in's SetupIntent controls), and Stripe's clock moving the customer's billing on.
 */
export const DAY_S = 86_400;

export async function createPlan(
  sys: System,
  o: {
    name?: string;
    currency?: string;
    amount?: number;
    trialDays?: number;
    interval?: "day" | "month";
  } = {},
): Promise<Stripe.Price> {
  const price = await stripeFor(sys.standin).prices.create({
    product_data: { name: o.name ?? "Pro" },
    currency: o.currency ?? "usd",
    unit_amount: o.amount ?? 1_500,
    recurring: {
      interval: o.interval ?? "month",
      ...(o.trialDays !== undefined && { trial_period_days: o.trialDays }),
    },
  });
  await eventually(async () => (await planRow(sys, price.id))?.price_active === true, {
    what: `plan ${price.id}`,
  });
  return price;
}

export const planRow = (sys: System, priceId: string) =>
  sys.tdb.db("subscription_plans").where({ price_id: priceId }).first();

export async function subscribe(sys: System, user: string, priceId: string, key = `sub-${Math.random()}`) {
  return api(sys.url, "POST", "/v1/subscriptions", {
    user,
    body: { price_id: priceId },
    headers: { "idempotency-key": key },
  });
}

/** The browser confirming the SetupIntent with a test card (default pm_card_visa). */
export async function confirmSetup(sys: System, setupIntentId: string, paymentMethod?: string) {
  return controlCall<any>(
    sys.standin.url,
    `/setup_intents/${setupIntentId}/confirm`,
    paymentMethod ? { payment_method: paymentMethod } : {},
  );
}

export async function authenticateSetup(sys: System, setupIntentId: string, outcome: "succeed" | "fail") {
  return controlCall<any>(sys.standin.url, `/setup_intents/${setupIntentId}/authenticate`, { outcome });
}

export async function customerOf(sys: System, user: string): Promise<string> {
  const row = await sys.tdb.db("stripe_customers").where({ user_id: user }).first();
  if (!row) throw new Error(`no customer for ${user}`);
  return row.customer_id as string;
}

/** Moves the customer's billing clock; the events of what fell due go out as webhooks. */
export async function advanceClock(sys: System, customerId: string, seconds: number): Promise<void> {
  const res = await controlCall(sys.standin.url, `/customers/${customerId}/test_clock/advance`, { seconds });
  if (res.status !== 200) throw new Error(`advance: ${JSON.stringify(res.body)}`);
}

export async function listMine(sys: System, user: string): Promise<any[]> {
  const res = await api(sys.url, "GET", "/v1/subscriptions?limit=100", { user });
  if (res.status !== 200) throw new Error(`list: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}

/** Waits for the subscription made from `setupId`, optionally until `done` holds for it. */
export async function subscriptionOf(
  sys: System,
  user: string,
  setupId: string,
  done: (s: any) => boolean = () => true,
  what = "subscription",
): Promise<any> {
  return eventually(async () => (await listMine(sys, user)).find((s) => s.setup_id === setupId && done(s)), {
    what: `${what} of ${setupId}`,
  });
}

/** Subscriptions at Stripe for a customer, every status. */
export async function stripeSubscriptions(sys: System, customerId: string): Promise<Stripe.Subscription[]> {
  return (
    await stripeFor(sys.standin).subscriptions.list({ customer: customerId, status: "all", limit: 100 })
  ).data;
}

/** Coffer's own calls to Stripe (not the harness's), for "nothing was sent" checks. */
export const cofferRequests = (sys: System) =>
  sys.standin.requests().filter((r) => r.key !== HARNESS_API_KEY);

/** Every table a refused subscribe might write, counted. */
export async function billingCounts(sys: System): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of [
    "subscription_setups",
    "stripe_customers",
    "user_subscriptions",
    "http_idempotency_keys",
  ]) {
    out[t] = Number((await sys.tdb.db(t).count({ n: "*" }).first())?.n);
  }
  return out;
}
