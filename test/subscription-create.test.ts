import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { stripeFor } from "./support/stripe-client.js";
import {
  authenticateSetup,
  billingCounts,
  cofferRequests,
  confirmSetup,
  createPlan,
  customerOf,
  stripeSubscriptions,
  subscribe,
  subscriptionOf,
} from "./support/subscriptions.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * Subscribing: POST /v1/subscriptions makes a setup and an off-session SetupIntent on the user's
 * one customer; when the card is saved (with 3-D Secure if the bank asks) the subscription is
 * made with the plan's trial and the saved card, and shows in GET /v1/subscriptions.
 */
let sys: System;
let stripe: Stripe;
let plan: Stripe.Price;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
  stripe = stripeFor(sys.standin);
  plan = await createPlan(sys, { name: "Pro", trialDays: 14 });
}, 60_000);
afterAll(async () => sys?.stop());

const setupRow = (id: string) => sys.tdb.db("subscription_setups").where({ id }).first();

describe("POST /v1/subscriptions", () => {
  it("makes a setup and its SetupIntent; the saved card becomes a trialing subscription", async () => {
    const res = await subscribe(sys, "alice", plan.id, "alice-1");
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["client_secret", "id", "setup_intent_id", "status"]);
    expect(res.body).toMatchObject({
      status: "requires_payment_method",
      id: expect.stringMatching(/^sset_/),
    });

    const customer = await customerOf(sys, "alice");
    expect((await stripe.customers.retrieve(customer)) as Stripe.Customer).toMatchObject({
      metadata: { user_id: "alice" },
    });
    const si = await stripe.setupIntents.retrieve(res.body.setup_intent_id);
    expect(si).toMatchObject({
      usage: "off_session",
      customer,
      client_secret: res.body.client_secret,
      metadata: { user_id: "alice", price_id: plan.id, setup_id: res.body.id },
    });

    const replay = await subscribe(sys, "alice", plan.id, "alice-1");
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(res.body);
    const otherBody = await subscribe(sys, "alice", "price_other", "alice-1");
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.error.code).toBe("idempotency_key_reused");

    expect((await confirmSetup(sys, si.id)).status).toBe(200);
    const sub = await subscriptionOf(sys, "alice", res.body.id);
    expect(sub).toMatchObject({ price_id: plan.id, status: "trialing", cancel_at_period_end: false });
    const [atStripe, ...more] = await stripeSubscriptions(sys, customer);
    expect(more).toEqual([]);
    const saved = (await stripe.setupIntents.retrieve(si.id)).payment_method;
    expect(atStripe).toMatchObject({
      id: sub.id,
      default_payment_method: saved,
      metadata: { user_id: "alice", setup_id: res.body.id },
      items: { data: [{ price: { id: plan.id } }] },
    });
    expect(atStripe!.trial_end! - atStripe!.trial_start!).toBe(14 * 86_400);
    expect(new Date(sub.trial_end).getTime() / 1000).toBe(atStripe!.trial_end);
    expect(await setupRow(res.body.id)).toMatchObject({ status: "succeeded", subscription_id: sub.id });

    // The same user, another key: one customer, and the price is held already.
    const again = await subscribe(sys, "alice", plan.id, "alice-2");
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("already_subscribed");
    expect((await sys.tdb.db("stripe_customers").where({ user_id: "alice" })).length).toBe(1);

    expect((await api(sys.url, "GET", `/v1/subscriptions/${sub.id}`, { user: "alice" })).body.id).toBe(
      sub.id,
    );
    for (const method of ["GET", "DELETE"]) {
      const foreign = await api(sys.url, method, `/v1/subscriptions/${sub.id}`, { user: "mallory" });
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe("not_found");
    }
    expect((await api(sys.url, "GET", "/v1/subscriptions", { user: "mallory" })).body).toEqual({
      data: [],
      has_more: false,
    });
  });

  it("SCA: a SetupIntent that needs 3-D Secure, then passes, makes one subscription; one that fails, none", async () => {
    const card = "pm_card_authenticationRequiredSetupForOffSession";
    const ok = await subscribe(sys, "sca-ok", plan.id);
    expect((await confirmSetup(sys, ok.body.setup_intent_id, card)).body.status).toBe("requires_action");
    await eventually(async () => (await setupRow(ok.body.id))?.status === "requires_action", {
      what: "setup requires_action",
    });
    await authenticateSetup(sys, ok.body.setup_intent_id, "succeed");
    const sub = await subscriptionOf(sys, "sca-ok", ok.body.id);
    expect(await stripeSubscriptions(sys, await customerOf(sys, "sca-ok"))).toHaveLength(1);
    expect(sub.status).toBe("trialing");

    const failed = await subscribe(sys, "sca-fail", plan.id);
    await confirmSetup(sys, failed.body.setup_intent_id, card);
    await authenticateSetup(sys, failed.body.setup_intent_id, "fail");
    await eventually(async () => (await setupRow(failed.body.id))?.status === "failed", {
      what: "setup failed",
    });
    expect((await setupRow(failed.body.id))!.last_error).toMatch(/setup_intent_authentication_failure/);

    const declined = await subscribe(sys, "declined", plan.id);
    expect((await confirmSetup(sys, declined.body.setup_intent_id, "pm_card_chargeDeclined")).status).toBe(
      402,
    );
    await eventually(async () => (await setupRow(declined.body.id))?.status === "failed", {
      what: "declined",
    });
    await sys.standin.flushWebhooks();
    await new Promise((r) => setTimeout(r, 500));
    for (const user of ["sca-fail", "declined"]) {
      expect(await stripeSubscriptions(sys, await customerOf(sys, user))).toEqual([]);
      expect((await api(sys.url, "GET", "/v1/subscriptions", { user })).body.data).toEqual([]);
    }
  });

  it("refuses an unknown, inactive or foreign-currency price, and bad bodies: a code, nothing written, nothing sent", async () => {
    const inactive = await createPlan(sys, { name: "Retired" });
    await stripe.prices.update(inactive.id, { active: false });
    await eventually(
      async () =>
        (await sys.tdb.db("subscription_plans").where({ price_id: inactive.id }).first())?.active === false,
      {
        what: "inactive plan",
      },
    );
    const swiss = await createPlan(sys, { name: "Swiss", currency: "chf" });
    await api(sys.url, "GET", "/v1/wallet", { user: "picky" }); // provisioned before counting
    const before = await billingCounts(sys);
    const sent = cofferRequests(sys).length;
    const post = (
      body: unknown,
      headers: Record<string, string> = { "idempotency-key": `k-${Math.random()}` },
    ) => api(sys.url, "POST", "/v1/subscriptions", { user: "picky", body, headers });
    const cases: Array<[Promise<Awaited<ReturnType<typeof post>>>, number, string]> = [
      [post({ price_id: "price_nope" }), 422, "price_unavailable"],
      [post({ price_id: inactive.id }), 422, "price_unavailable"],
      [post({ price_id: swiss.id }), 422, "currency_not_supported"],
      [post({ price_id: plan.id, quantity: 2 }), 422, "unknown_field"],
      [post({ price_id: plan.id }, {}), 400, "idempotency_key_missing"],
      [post({}), 422, "field_required"],
      [post({ price_id: "" }), 422, "invalid_field"],
      [post({ price_id: "p".repeat(10 * 1024) }), 422, "invalid_field"],
      [post({ price_id: 42 }), 422, "invalid_field"],
      [post({ price_id: "price with spaces" }), 422, "invalid_field"],
      [post([plan.id]), 400, "bad_request"],
    ];
    for (const [call, status, code] of cases) {
      const res = await call;
      expect([res.status, res.body.error?.code]).toEqual([status, code]);
    }
    expect(await billingCounts(sys)).toEqual(before);
    expect(cofferRequests(sys).length).toBe(sent);
  });
});
