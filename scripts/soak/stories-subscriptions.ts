import type Stripe from "stripe";
import { pause, stripeDoes, stripeOf, stripeTries, waitFor, type StoryContext } from "./story-context.js";
import type { Scenario } from "./workload.js";

/**
 * Stories about one subscription (Stripe Billing charges the card; no wallet moves): plans made
 * at Stripe and mirrored by Coffer, the user subscribing through the API, the browser saving
 * the card, Coffer making the Subscription from `setup_intent.succeeded`, then Stripe's clock
 * moving the customer's billing on. What the audit expects is written down here, from what the
 * soak asked Stripe to do, and compared at the end with Stripe and with Coffer's API.
 */
export interface SubscriptionExpectation {
  user: string;
  setupId: string;
  customer: string;
  /** Subscriptions Stripe must hold for the customer: exactly one, none if the card was refused. */
  subscriptions: 0 | 1;
  /** How the story left it at Stripe. */
  status: "active" | "canceled" | undefined;
  /** Notifications Coffer must have recorded once each, by kind. */
  notifications: { trial_will_end: number; invoice_payment_failed: number };
}

export const subscriptionExpectations: SubscriptionExpectation[] = [];

const DAY_S = 86_400;
let plans: Promise<{ plain: string; trial: string }> | undefined;

/** Two plans, made once at Stripe (the Dashboard) and waited for in GET /v1/plans. */
function soakPlans(ctx: StoryContext, user: string): Promise<{ plain: string; trial: string }> {
  plans ??= (async () => {
    const stripe = stripeOf(ctx);
    const make = (name: string, currency: string, amount: number, trialDays?: number) =>
      stripe.prices.create(
        {
          product_data: { name },
          currency,
          unit_amount: amount,
          recurring: { interval: "month", ...(trialDays !== undefined && { trial_period_days: trialDays }) },
        },
        { idempotencyKey: `soak-${ctx.seed}-plan-${name}` },
      );
    const [plain, trial] = await Promise.all([make("Soak", "usd", 1_500), make("Soak trial", "eur", 900, 7)]);
    await waitFor("the soak's plans in GET /v1/plans", async () => {
      const res = await ctx.api.call("GET", "/v1/plans?limit=100", { user });
      const ids = new Set(((res.body?.data ?? []) as Array<{ price_id: string }>).map((p) => p.price_id));
      return ids.has(plain.id) && ids.has(trial.id) ? true : undefined;
    });
    return { plain: plain.id, trial: trial.id };
  })();
  return plans;
}

async function theSubscription(ctx: StoryContext, customer: string): Promise<Stripe.Subscription> {
  return waitFor(`Coffer's subscription for ${customer}`, async () => {
    const list = await stripeOf(ctx).subscriptions.list({ customer, status: "all", limit: 10 });
    return list.data[0];
  });
}

/** Coffer's mirror of it, as the user sees it, once it exists. */
async function mirrored(ctx: StoryContext, user: string, setupId: string): Promise<{ id: string }> {
  return waitFor(`GET /v1/subscriptions shows ${setupId}`, async () => {
    const res = await ctx.api.call("GET", "/v1/subscriptions?limit=100", { user });
    return ((res.body?.data ?? []) as Array<{ id: string; setup_id: string }>).find(
      (s) => s.setup_id === setupId,
    );
  });
}

export async function subscriptionStory(ctx: StoryContext, s: Scenario): Promise<void> {
  const stripe = stripeOf(ctx);
  const { plain, trial } = await soakPlans(ctx, s.user);
  const withTrial = s.kind === "subscription_canceled" || s.kind === "subscription_declined";
  const res = await ctx.api.call("POST", "/v1/subscriptions", {
    user: s.user,
    body: { price_id: withTrial ? trial : plain },
    idempotencyKey: `soak-${ctx.seed}-${s.index}-subscribe`,
  });
  if (res.status !== 201) throw new Error(`subscribe answered ${res.status}: ${JSON.stringify(res.body)}`);
  const setupId = res.body.id as string;
  const seti = await stripe.setupIntents.retrieve(res.body.setup_intent_id as string);
  const customer = seti.customer as string;
  const expect: SubscriptionExpectation = {
    user: s.user,
    setupId,
    customer,
    subscriptions: 1,
    status: undefined,
    notifications: { trial_will_end: 0, invoice_payment_failed: 0 },
  };
  subscriptionExpectations.push(expect);
  await pause(s, 0);
  if (s.kind === "subscription_setup_failed") {
    const refused = await stripeTries(ctx, `/setup_intents/${seti.id}/confirm`, {
      payment_method: "pm_card_chargeDeclined",
    });
    if (refused.status < 400) throw new Error(`a declined card saved: ${JSON.stringify(refused.body)}`);
    expect.subscriptions = 0;
    return;
  }
  await stripeDoes(ctx, `/setup_intents/${seti.id}/confirm`);
  const sub = await theSubscription(ctx, customer);
  await pause(s, 1);
  const advance = (days: number) =>
    stripeDoes(ctx, `/customers/${customer}/test_clock/advance`, { seconds: days * DAY_S });
  switch (s.kind) {
    case "subscription_renewed":
      await advance(32); // the next month's invoice is paid
      expect.status = "active";
      return;
    case "subscription_canceled": {
      // Through Coffer, as the user does; a repeat after a lost answer is 409, and then the
      // mirror says whether the first one worked.
      const { id } = await mirrored(ctx, s.user, setupId);
      const canceled = await ctx.api.call("DELETE", `/v1/subscriptions/${id}`, { user: s.user });
      if (canceled.status !== 200 && canceled.body?.error?.code !== "subscription_not_cancelable")
        throw new Error(`cancel answered ${canceled.status}: ${JSON.stringify(canceled.body)}`);
      await waitFor(`cancel_at_period_end at Stripe for ${id}`, async () =>
        (await stripe.subscriptions.retrieve(id)).cancel_at_period_end ? true : undefined,
      );
      await pause(s, 2);
      await advance(7 + 33); // the trial, then the period: it ends
      expect.notifications.trial_will_end = 1;
      expect.status = "canceled";
      return;
    }
    case "subscription_declined": {
      const pm = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer });
      await stripe.subscriptions.update(sub.id, { default_payment_method: pm.id });
      await advance(7); // the trial ends and its first invoice is declined
      expect.notifications = { trial_will_end: 1, invoice_payment_failed: 1 };
      await pause(s, 2);
      await stripe.subscriptions.cancel(sub.id);
      expect.status = "canceled";
      return;
    }
    default:
      throw new Error(`not a subscription story: ${s.kind}`);
  }
}
