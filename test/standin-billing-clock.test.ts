import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import type { Standin, StripeEvent } from "../src/standin/index.js";
import { standinControl, stripeFailure, stripeFor } from "./support/stripe-client.js";

/**
 * Subscriptions and invoices at the stand-in over a customer's test clock: trials that end (with
 * trial_will_end three days before), renewals that are paid or declined, an invoice paid later,
 * cancellation at period end, pause and resume, each with Stripe's events in Stripe's shapes.
 */
let standin: Standin;
let stripe: Stripe;
beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

const DAY = 86_400;
const control = <T = Record<string, unknown>>(path: string, body: unknown = {}) =>
  standinControl<T>(standin.url, path, body, "POST");

async function eventsOf(act: () => Promise<unknown>): Promise<StripeEvent[]> {
  const before = standin.eventCount();
  await act();
  return standin.events(before).filter((e) => !e.type.startsWith("payment_method."));
}
const types = (events: StripeEvent[]) => events.map((e) => e.type);

async function advance(customer: string, seconds: number): Promise<StripeEvent[]> {
  return eventsOf(async () => {
    const res = await control(`/customers/${customer}/test_clock/advance`, { seconds });
    if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  });
}

/** A customer with a saved card, as a succeeded SetupIntent leaves it. */
async function customerWithCard(card = "pm_card_visa"): Promise<{ customer: string; pm: string }> {
  const customer = await stripe.customers.create({ metadata: { user_id: "u" } });
  const si = await stripe.setupIntents.create({ customer: customer.id, usage: "off_session" });
  await control(`/setup_intents/${si.id}/confirm`, { payment_method: card });
  const done = await stripe.setupIntents.retrieve(si.id);
  return { customer: customer.id, pm: String(done.payment_method) };
}

async function monthlyPrice(trialDays: number | null = null): Promise<Stripe.Price> {
  return stripe.prices.create({
    product_data: { name: "Monthly" },
    currency: "usd",
    unit_amount: 1500,
    recurring: { interval: "month", ...(trialDays !== null && { trial_period_days: trialDays }) },
  });
}

describe("subscriptions over the test clock", () => {
  it("a trial, its end, a declined renewal, the invoice paid later, then cancellation at period end", async () => {
    const { customer, pm } = await customerWithCard();
    const price = await monthlyPrice(14);
    const created = await eventsOf(() =>
      stripe.subscriptions.create({
        customer,
        items: [{ price: price.id }],
        default_payment_method: pm,
        trial_from_plan: true,
        metadata: { setup_id: "sup_1" },
      }),
    );
    expect(types(created)).toEqual([
      "customer.subscription.created",
      "invoice.created",
      "invoice.finalized",
      "invoice.paid",
      "invoice.payment_succeeded",
    ]);
    const sub = created[0]!.data.object as unknown as Stripe.Subscription;
    expect(sub).toMatchObject({ status: "trialing", customer, default_payment_method: pm });
    expect(sub.trial_end! - sub.trial_start!).toBe(14 * DAY);
    expect(sub.items.data[0]).toMatchObject({ current_period_end: sub.trial_end, price: { id: price.id } });
    expect(created[1]!.data.object).toMatchObject({
      amount_due: 0,
      billing_reason: "subscription_create",
      parent: { subscription_details: { subscription: sub.id, metadata: { setup_id: "sup_1" } } },
    });

    expect(types(await advance(customer, 11 * DAY))).toEqual(["customer.subscription.trial_will_end"]);
    const trialOver = await advance(customer, 4 * DAY);
    // Since API version 2025-03-31 the invoice is charged on a PaymentIntent of its own, named by
    // its default InvoicePayment (not by the invoice): a Charge, and its balance transaction.
    expect(types(trialOver)).toEqual([
      "invoice.created",
      "payment_intent.created",
      "invoice.finalized",
      "customer.subscription.updated",
      "charge.succeeded",
      "payment_intent.succeeded",
      "invoice_payment.paid",
      "invoice.paid",
      "invoice.payment_succeeded",
    ]);
    expect(trialOver[3]!.data.previous_attributes).toMatchObject({ status: "trialing" });
    const paidInvoice = trialOver[7]!.data.object as unknown as Stripe.Invoice;
    expect(paidInvoice).toMatchObject({
      amount_paid: 1500,
      status: "paid",
      billing_reason: "subscription_cycle",
    });
    expect(paidInvoice).not.toHaveProperty("charge");
    expect(paidInvoice).not.toHaveProperty("payment_intent");
    const record = trialOver[6]!.data.object as unknown as Stripe.InvoicePayment;
    const piId = trialOver[5]!.data.object.id as string;
    expect(record).toMatchObject({
      object: "invoice_payment",
      invoice: paidInvoice.id,
      is_default: true,
      status: "paid",
      amount_paid: 1500,
      amount_requested: 1500,
      currency: "usd",
      payment: { type: "payment_intent", payment_intent: piId },
    });
    expect((await stripe.invoicePayments.list({ invoice: paidInvoice.id })).data.map((r) => r.id)).toEqual([
      record.id,
    ]);
    const byPi = await stripe.invoicePayments.list({
      payment: { type: "payment_intent", payment_intent: piId },
    });
    expect(byPi.data.map((r) => r.id)).toEqual([record.id]);
    const charge = trialOver[4]!.data.object as unknown as Stripe.Charge;
    expect(charge).toMatchObject({
      amount: 1500,
      amount_captured: 1500,
      captured: true,
      customer,
      payment_intent: piId,
      payment_method: pm,
      status: "succeeded",
    });
    expect(charge).not.toHaveProperty("invoice");
    const txn = await stripe.balanceTransactions.retrieve(charge.balance_transaction as string);
    expect(txn).toMatchObject({
      type: "charge",
      reporting_category: "charge",
      amount: 1500,
      source: charge.id,
    });
    expect(txn.fee).toBeGreaterThan(0);
    expect(txn.net).toBe(1500 - txn.fee);
    expect(txn.status).toBe("pending"); // like any card charge, until its available_on
    expect(txn.available_on).toBeGreaterThan(txn.created);
    expect(await stripe.paymentIntents.retrieve(piId)).toMatchObject({
      status: "succeeded",
      amount_received: 1500,
      latest_charge: charge.id,
      customer,
      metadata: {},
    });

    // The card starts failing: the renewal is declined and the subscription goes past due.
    const failing = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer });
    await stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
    const renewal = await advance(customer, 31 * DAY);
    expect(types(renewal)).toEqual([
      "invoice.created",
      "payment_intent.created",
      "invoice.finalized",
      "customer.subscription.updated",
      "charge.failed",
      "payment_intent.payment_failed",
      "invoice.payment_failed",
      "customer.subscription.updated",
    ]);
    expect(renewal[6]!.data.object).toMatchObject({ status: "open", attempted: true, attempt_count: 1 });
    expect(renewal[7]!.data.object).toMatchObject({ status: "past_due" });
    // A declined charge moves no money: no balance transaction, and the PaymentIntent waits for a retry.
    expect(renewal[4]!.data.object).toMatchObject({
      status: "failed",
      paid: false,
      captured: false,
      balance_transaction: null,
      failure_code: "card_declined",
    });
    expect(renewal[5]!.data.object).toMatchObject({ status: "requires_payment_method" });
    const invoiceId = (renewal[6]!.data.object as { id: string }).id;
    const linesBefore = (await stripe.balanceTransactions.list({ limit: 100 })).data.length;
    expect(
      (await stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] })).latest_invoice,
    ).toMatchObject({
      id: invoiceId,
      status: "open",
    });

    // Paid with a working card: active again.
    const good = await stripe.paymentMethods.attach("pm_card_visa", { customer });
    const declined = await stripeFailure(stripe.invoices.pay(invoiceId, { payment_method: failing.id }));
    expect(declined.code).toBe("card_declined");
    const paid = await eventsOf(() => stripe.invoices.pay(invoiceId, { payment_method: good.id }));
    expect(types(paid)).toEqual([
      "charge.succeeded",
      "payment_intent.succeeded",
      "invoice_payment.paid",
      "invoice.paid",
      "invoice.payment_succeeded",
      "customer.subscription.updated",
    ]);
    expect(paid[5]!.data.object).toMatchObject({ status: "active" });
    // The retry is a third charge on the invoice's one PaymentIntent; only it has a balance transaction.
    const retryPi = paid[1]!.data.object.id as string;
    expect(renewal[5]!.data.object.id).toBe(retryPi);
    const attempts = (await stripe.charges.list({ payment_intent: retryPi })).data;
    expect(attempts.map((c) => [c.status, c.balance_transaction === null])).toEqual([
      ["succeeded", false],
      ["failed", true],
      ["failed", true],
    ]);
    expect((await stripe.balanceTransactions.list({ limit: 100 })).data.length).toBe(linesBefore + 1);

    const cancel = await eventsOf(() => stripe.subscriptions.update(sub.id, { cancel_at_period_end: true }));
    expect(types(cancel)).toEqual(["customer.subscription.updated"]);
    expect(cancel[0]!.data.object).toMatchObject({ cancel_at_period_end: true, status: "active" });
    expect(cancel[0]!.data.previous_attributes).toMatchObject({
      cancel_at_period_end: false,
      canceled_at: null,
    });
    const end = await advance(customer, 31 * DAY);
    expect(types(end)).toEqual(["customer.subscription.deleted"]);
    expect(end[0]!.data.object).toMatchObject({ status: "canceled" });
    expect((await stripe.subscriptions.list({ customer })).data).toEqual([]);
    expect((await stripe.subscriptions.list({ customer, status: "all" })).data.map((s) => s.id)).toEqual([
      sub.id,
    ]);
    expect(
      (await stripeFailure(stripe.subscriptions.update(sub.id, { cancel_at_period_end: false }))).message,
    ).toMatch(/canceled subscription/);
  });

  it("without a trial the first invoice is charged at once: active, or incomplete if declined", async () => {
    const price = await monthlyPrice();
    const ok = await customerWithCard();
    const active = await stripe.subscriptions.create({
      customer: ok.customer,
      items: [{ price: price.id }],
      default_payment_method: ok.pm,
    });
    expect(active.status).toBe("active");
    const bad = await customerWithCard("pm_card_chargeCustomerFail");
    const incomplete = await stripe.subscriptions.create({
      customer: bad.customer,
      items: [{ price: price.id }],
      default_payment_method: bad.pm,
    });
    expect(incomplete.status).toBe("incomplete");
    const refused = await stripeFailure(
      stripe.subscriptions.create({
        customer: bad.customer,
        items: [{ price: price.id }],
        default_payment_method: bad.pm,
        payment_behavior: "error_if_incomplete",
      }),
    );
    expect(refused.type).toBe("StripeCardError");
  });

  it("pauses and resumes with Stripe's events", async () => {
    const { customer, pm } = await customerWithCard();
    const price = await monthlyPrice();
    const sub = await stripe.subscriptions.create({
      customer,
      items: [{ price: price.id }],
      default_payment_method: pm,
    });
    const paused = await eventsOf(() => stripe.subscriptions.pause(sub.id));
    expect(types(paused)).toEqual(["customer.subscription.paused", "customer.subscription.updated"]);
    expect(types(await advance(customer, 40 * DAY))).toEqual([]); // no invoices while paused
    const resumed = await eventsOf(() => stripe.subscriptions.resume(sub.id));
    expect(types(resumed).slice(0, 1)).toEqual(["customer.subscription.resumed"]);
    expect(types(resumed)).toContain("invoice.paid");
    expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
  });

  it("refuses what Stripe refuses", async () => {
    const { customer, pm } = await customerWithCard();
    const other = await customerWithCard();
    const price = await monthlyPrice();
    const inactive = await monthlyPrice();
    await stripe.prices.update(inactive.id, { active: false });
    const cases: Array<[Promise<unknown>, string]> = [
      [stripe.subscriptions.create({ customer, items: [{ price: inactive.id }] }), "items[0][price]"],
      [
        stripe.subscriptions.create({
          customer,
          items: [{ price: price.id }],
          default_payment_method: other.pm,
        }),
        "default_payment_method",
      ],
      [stripe.subscriptions.create({ customer: "cus_nope", items: [{ price: price.id }] }), "customer"],
      [stripe.subscriptions.create({ customer }), "items"],
    ];
    for (const [call, param] of cases) expect((await stripeFailure(call)).param).toBe(param);
    await stripe.subscriptions.create({ customer, items: [{ price: price.id }], default_payment_method: pm });
    const tooFar = await control<{ error: { param: string } }>(`/customers/${customer}/test_clock/advance`, {
      seconds: 80 * DAY,
    });
    expect(tooFar.status).toBe(400);
    expect(tooFar.body.error.param).toBe("frozen_time");
  });
});
