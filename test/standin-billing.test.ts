import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import type { Standin, StripeEvent } from "../src/standin/index.js";
import { standinControl, stripeFailure, stripeFor } from "./support/stripe-client.js";

/**
 * The stand-in's Billing catalogue, customers and SetupIntents, through the real SDK, as strict
 * as Stripe: list pagination with `expand[]=data.product`, Stripe's events with
 * previous_attributes, refusals in Stripe's words, and the browser's side of saving a card
 * (success, decline, 3-D Secure passed or failed).
 */
let standin: Standin;
let stripe: Stripe;
beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

const control = <T = Record<string, unknown>>(path: string, body: unknown = {}) =>
  standinControl<T>(standin.url, path, body, "POST");

async function eventsOf(act: () => Promise<unknown>): Promise<StripeEvent[]> {
  const before = standin.eventCount();
  await act();
  return standin.events(before);
}
const types = (events: StripeEvent[]) => events.map((e) => e.type);

describe("products and prices", () => {
  it("pages through prices newest first, expanding each product on request", async () => {
    const product = await stripe.products.create({ name: "Pro" });
    const created: string[] = [];
    for (const amount of [500, 600, 700]) {
      const price = await stripe.prices.create({
        product: product.id,
        currency: "usd",
        unit_amount: amount,
        recurring: { interval: "month", trial_period_days: 14 },
      });
      created.push(price.id);
    }
    const first = await stripe.prices.list({ product: product.id, limit: 2, expand: ["data.product"] });
    expect(first.data.map((p) => p.id)).toEqual([created[2], created[1]]);
    expect(first.has_more).toBe(true);
    expect((first.data[0]!.product as Stripe.Product).name).toBe("Pro");
    const rest = await stripe.prices.list({ product: product.id, limit: 2, starting_after: created[1]! });
    expect(rest.data.map((p) => p.id)).toEqual([created[0]]);
    expect(rest.data[0]!.product).toBe(product.id);
    expect(rest.data[0]!.recurring).toMatchObject({
      interval: "month",
      interval_count: 1,
      trial_period_days: 14,
    });
    // auto-pagination walks the lot
    const all: string[] = [];
    for await (const p of stripe.prices.list({ product: product.id, limit: 1 })) all.push(p.id);
    expect(all).toEqual([...created].reverse());
  });

  it("reports deactivation and renaming with previous_attributes", async () => {
    const price = await stripe.prices.create({
      product_data: { name: "Basic" },
      currency: "eur",
      unit_amount: 900,
      recurring: { interval: "year" },
    });
    const off = await eventsOf(() => stripe.prices.update(price.id, { active: false }));
    expect(types(off)).toEqual(["price.updated"]);
    expect(off[0]!.data.previous_attributes).toEqual({ active: true });
    expect(off[0]!.data.object).toMatchObject({ id: price.id, active: false });
    expect((await stripe.prices.list({ active: false, product: String(price.product) })).data).toHaveLength(
      1,
    );

    const renamed = await eventsOf(() => stripe.products.update(String(price.product), { name: "Basic+" }));
    expect(types(renamed)).toEqual(["product.updated"]);
    expect(renamed[0]!.data.previous_attributes).toEqual({ name: "Basic" });
    // Nothing changed: no event
    expect(await eventsOf(() => stripe.products.update(String(price.product), { name: "Basic+" }))).toEqual(
      [],
    );
  });

  it("refuses what Stripe refuses", async () => {
    const product = await stripe.products.create({ name: "Strict" });
    const unknown = await stripeFailure(
      stripe.prices.create({
        product: product.id,
        currency: "usd",
        unit_amount: 1,
        metdata: { a: "b" },
      } as never),
    );
    expect(unknown.code).toBe("parameter_unknown");
    const noAmount = await stripeFailure(stripe.prices.create({ product: product.id, currency: "usd" }));
    expect(noAmount.param).toBe("unit_amount");
    const tooLong = await stripeFailure(
      stripe.prices.create({
        product: product.id,
        currency: "usd",
        unit_amount: 1,
        recurring: { interval: "month", interval_count: 13 },
      }),
    );
    expect(tooLong.param).toBe("recurring[interval_count]");
    const missing = await stripeFailure(
      stripe.prices.create({ product: "prod_nope", currency: "usd", unit_amount: 1 }),
    );
    expect(missing.code).toBe("resource_missing");
    await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 1 });
    const withPrices = await stripeFailure(stripe.products.del(product.id));
    expect(withPrices.message).toMatch(/cannot be deleted/);
  });

  it("deletes a price as the Dashboard does: price.deleted, then the API no longer finds it", async () => {
    const price = await stripe.prices.create({
      product_data: { name: "Gone" },
      currency: "usd",
      unit_amount: 100,
      recurring: { interval: "month" },
    });
    const deleted = await eventsOf(() => control(`/prices/${price.id}/delete`));
    expect(types(deleted)).toEqual(["price.deleted"]);
    expect((await stripeFailure(stripe.prices.retrieve(price.id))).code).toBe("resource_missing");
    expect((await stripe.prices.list({ product: String(price.product) })).data).toEqual([]);
  });
});

describe("customers and SetupIntents", () => {
  it("creates a customer once per idempotency key, with its metadata", async () => {
    const a = await stripe.customers.create({ metadata: { user_id: "u1" } }, { idempotencyKey: "cus-key-1" });
    const b = await stripe.customers.create({ metadata: { user_id: "u1" } }, { idempotencyKey: "cus-key-1" });
    expect(b.id).toBe(a.id);
    expect(a.metadata).toEqual({ user_id: "u1" });
    expect(a.invoice_settings.default_payment_method).toBeNull();
    expect((await stripeFailure(stripe.customers.create({ test: 1 } as never))).code).toBe(
      "parameter_unknown",
    );
  });

  async function setup(): Promise<{ customer: Stripe.Customer; si: Stripe.SetupIntent }> {
    const customer = await stripe.customers.create({});
    const si = await stripe.setupIntents.create({
      customer: customer.id,
      usage: "off_session",
      allowed_payment_method_types: ["card"],
      metadata: { user_id: "u1", price_id: "price_x", setup_id: "sup_1" },
    });
    return { customer, si };
  }

  it("saves a card: succeeded, the card attached to the customer", async () => {
    const { customer, si } = await setup();
    expect(si).toMatchObject({
      status: "requires_payment_method",
      usage: "off_session",
      customer: customer.id,
    });
    expect(si.client_secret).toMatch(new RegExp(`^${si.id}_secret_`));
    const events = await eventsOf(() => control(`/setup_intents/${si.id}/confirm`));
    expect(types(events)).toEqual(["payment_method.attached", "setup_intent.succeeded"]);
    const done = await stripe.setupIntents.retrieve(si.id, { expand: ["payment_method"] });
    expect(done.status).toBe("succeeded");
    expect((done.payment_method as Stripe.PaymentMethod).customer).toBe(customer.id);
    expect((done.payment_method as Stripe.PaymentMethod).card?.last4).toBe("4242");
  });

  it("a declined card fails the setup (402, setup_intent.setup_failed) and leaves it retryable", async () => {
    const { si } = await setup();
    const res = await control<{ error: { code: string } }>(`/setup_intents/${si.id}/confirm`, {
      payment_method: "pm_card_chargeDeclined",
    });
    expect(res.status).toBe(402);
    expect(res.body.error.code).toBe("card_declined");
    const failed = await stripe.setupIntents.retrieve(si.id);
    expect(failed).toMatchObject({ status: "requires_payment_method", payment_method: null });
    expect(failed.last_setup_error?.code).toBe("card_declined");
    expect(types(standin.events(standin.eventCount() - 1))).toEqual(["setup_intent.setup_failed"]);
    await control(`/setup_intents/${si.id}/confirm`);
    expect((await stripe.setupIntents.retrieve(si.id)).status).toBe("succeeded");
  });

  it("3-D Secure: requires_action, then the challenge passes or fails", async () => {
    const card = "pm_card_authenticationRequiredSetupForOffSession";
    const { si } = await setup();
    const asked = await eventsOf(() => control(`/setup_intents/${si.id}/confirm`, { payment_method: card }));
    expect(types(asked)).toEqual(["setup_intent.requires_action"]);
    expect(asked[0]!.data.object).toMatchObject({
      status: "requires_action",
      next_action: { type: "use_stripe_sdk" },
    });
    const passed = await eventsOf(() =>
      control(`/setup_intents/${si.id}/authenticate`, { outcome: "succeed" }),
    );
    expect(types(passed)).toEqual(["payment_method.attached", "setup_intent.succeeded"]);

    const other = await setup();
    await control(`/setup_intents/${other.si.id}/confirm`, { payment_method: card });
    const failed = await eventsOf(() =>
      control(`/setup_intents/${other.si.id}/authenticate`, { outcome: "fail" }),
    );
    expect(types(failed)).toEqual(["setup_intent.setup_failed"]);
    expect(failed[0]!.data.object).toMatchObject({
      status: "requires_payment_method",
      last_setup_error: { code: "setup_intent_authentication_failure" },
    });
    // A succeeded intent cannot be confirmed or canceled again.
    const again = await control<{ error: { code: string } }>(`/setup_intents/${si.id}/confirm`);
    expect(again.body.error.code).toBe("setup_intent_unexpected_state");
    expect((await stripeFailure(stripe.setupIntents.cancel(si.id))).code).toBe(
      "setup_intent_unexpected_state",
    );
  });

  it("refuses an unknown customer, an unknown card and a type the stand-in cannot save", async () => {
    expect((await stripeFailure(stripe.setupIntents.create({ customer: "cus_nope" }))).param).toBe(
      "customer",
    );
    const { si } = await setup();
    const res = await control<{ error: { code: string } }>(`/setup_intents/${si.id}/confirm`, {
      payment_method: "pm_nope",
    });
    expect(res.body.error.code).toBe("resource_missing");
    const sepa = await stripeFailure(
      stripe.setupIntents.create({ allowed_payment_method_types: ["sepa_debit"] }),
    );
    expect(sepa.param).toBe("allowed_payment_method_types");
  });
});
