/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are asserted field by field */
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { deliver } from "./support/events.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { stripeFor } from "./support/stripe-client.js";
import {
  DAY_S,
  advanceClock,
  confirmSetup,
  createPlan,
  customerOf,
  subscribe,
  subscriptionOf,
} from "./support/subscriptions.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * A subscription end to end, through the API, the stand-in's Billing and real workers: plans
 * synced, subscribe, the card saved, the subscription made; the trial ends (its notification
 * recorded once) and its invoice is paid; a renewal's invoice fails (past_due, a notification)
 * and is then paid; finally the subscription is canceled at period end and ends. GET
 * /v1/subscriptions shows each state; the admin routes hand the notifications over.
 */
let sys: System;
let stripe: Stripe;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
  stripe = stripeFor(sys.standin);
}, 60_000);
afterAll(async () => sys?.stop());

const USER = "lifecycle-user";
const admin = (method: string, path: string) => api(sys.url, method, path, { user: "ops", role: "admin" });
const notifications = async () => (await admin("GET", "/admin/notifications?limit=100")).body.data as any[];
const settled = () => eventually(async () => (await openEventCount(sys)) === 0, { what: "events applied" });

describe("a subscription, end to end", () => {
  it("trial, trial end, a failed renewal paid later, cancellation at period end", async () => {
    const plan = await createPlan(sys, { name: "Pro", trialDays: 14, amount: 1_500 });
    expect((await api(sys.url, "GET", "/v1/plans", { user: USER })).body.data[0]).toMatchObject({
      price_id: plan.id,
      name: "Pro",
      trial_period_days: 14,
    });

    const setup = await subscribe(sys, USER, plan.id, "lc-1");
    expect(setup.status).toBe(201);
    await confirmSetup(sys, setup.body.setup_intent_id);
    let sub = await subscriptionOf(sys, USER, setup.body.id, (s) => s.status === "trialing", "trialing");
    expect(sub).toMatchObject({
      price_id: plan.id,
      cancel_at_period_end: false,
      latest_invoice: { status: "paid" },
    });
    const customer = await customerOf(sys, USER);

    // Three days before the trial ends: trial_will_end, one notification, even if redelivered.
    await advanceClock(sys, customer, 11 * DAY_S);
    await eventually(async () => (await notifications()).some((n) => n.kind === "trial_will_end"), {
      what: "trial_will_end notification",
    });
    const willEnd = sys.standin.events().find((e) => e.type === "customer.subscription.trial_will_end")!;
    for (let i = 0; i < 3; i++) sys.standin.redeliverEvent(willEnd.id);
    await sys.standin.flushWebhooks();
    await settled();
    const trialNotes = (await notifications()).filter((n) => n.kind === "trial_will_end");
    expect(trialNotes).toHaveLength(1);
    expect(trialNotes[0]).toMatchObject({
      user_id: USER,
      subscription_id: sub.id,
      payload: { trial_end: sub.trial_end },
    });

    // The trial ends: the first invoice is paid and the subscription is active.
    await advanceClock(sys, customer, 3 * DAY_S);
    sub = await subscriptionOf(sys, USER, setup.body.id, (s) => s.status === "active", "active");
    expect(sub.latest_invoice.status).toBe("paid");
    const firstInvoice = sub.latest_invoice.id;
    expect(new Date(sub.current_period_start).getTime()).toBe(new Date(sub.trial_end).getTime());

    // The card starts failing (the user's bank): the renewal is declined and the subscription is past due.
    const failing = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer });
    await stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
    await advanceClock(sys, customer, 32 * DAY_S);
    sub = await subscriptionOf(sys, USER, setup.body.id, (s) => s.status === "past_due", "past_due");
    expect(sub.latest_invoice).toMatchObject({ status: "open" });
    expect(sub.latest_invoice.id).not.toBe(firstInvoice);
    await eventually(async () => (await notifications()).some((n) => n.kind === "invoice_payment_failed"), {
      what: "payment failed notification",
    });
    expect((await notifications()).filter((n) => n.kind === "invoice_payment_failed")).toEqual([
      expect.objectContaining({
        subscription_id: sub.id,
        payload: expect.objectContaining({
          invoice_id: sub.latest_invoice.id,
          amount_due_minor: 1_500,
          currency: "usd",
        }),
      }),
    ]);

    // A working card pays it: active again.
    const good = await stripe.paymentMethods.attach("pm_card_visa", { customer });
    await stripe.invoices.pay(sub.latest_invoice.id, { payment_method: good.id });
    sub = await subscriptionOf(
      sys,
      USER,
      setup.body.id,
      (s) => s.status === "active" && s.latest_invoice.status === "paid",
      "paid",
    );

    // Canceled at period end: the answer says so at once; a repeat is 409.
    const canceled = await api(sys.url, "DELETE", `/v1/subscriptions/${sub.id}`, { user: USER });
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ id: sub.id, status: "active", cancel_at_period_end: true });
    expect(canceled.body.canceled_at).not.toBeNull();
    expect((await stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end).toBe(true);
    const again = await api(sys.url, "DELETE", `/v1/subscriptions/${sub.id}`, { user: USER });
    expect([again.status, again.body.error.code]).toEqual([409, "subscription_not_cancelable"]);

    // The period ends: the subscription is deleted at Stripe and shows canceled.
    await advanceClock(sys, customer, 32 * DAY_S);
    sub = await subscriptionOf(sys, USER, setup.body.id, (s) => s.status === "canceled", "canceled");
    expect(sub.ended_at).not.toBeNull();
    await settled();
    const row = await sys.tdb.db("user_subscriptions").where({ id: sub.id }).first();
    const atStripe = await stripe.subscriptions.retrieve(sub.id);
    expect(row).toMatchObject({ status: atStripe.status, cancel_at_period_end: true });
    expect((await api(sys.url, "DELETE", `/v1/subscriptions/${sub.id}`, { user: USER })).status).toBe(409);
  });

  it("hands notifications over: admins list and acknowledge them (idempotently); others get 403", async () => {
    for (const path of ["/admin/notifications"]) {
      const res = await api(sys.url, "GET", path, { user: USER });
      expect([res.status, res.body.error.code]).toEqual([403, "forbidden"]);
    }
    const all = await notifications();
    expect(all.length).toBe(2);
    const first = all[0];
    const forbidden = await api(sys.url, "POST", `/admin/notifications/${first.id}/delivered`, {
      user: USER,
    });
    expect(forbidden.status).toBe(403);
    const acked = await admin("POST", `/admin/notifications/${first.id}/delivered`);
    expect(acked.status).toBe(200);
    expect(acked.body.delivered_at).not.toBeNull();
    const repeat = await admin("POST", `/admin/notifications/${first.id}/delivered`);
    expect(repeat.body).toEqual(acked.body);
    expect(
      (await admin("GET", "/admin/notifications?delivered=false")).body.data.map((n: any) => n.id),
    ).toEqual([all[1].id]);
    const page = await admin("GET", `/admin/notifications?limit=1&starting_after=${first.id}`);
    expect(page.body).toMatchObject({ has_more: false, data: [{ id: all[1].id }] });
    expect((await admin("POST", "/admin/notifications/999999/delivered")).status).toBe(404);
    expect((await admin("GET", "/admin/notifications?starting_after=nope")).body.error.code).toBe(
      "invalid_cursor",
    );
  });

  it("a duplicate of an old lifecycle event, long after, changes nothing", async () => {
    const created = sys.standin.events().find((e) => e.type === "customer.subscription.created")!;
    expect((await deliver(sys.url, { ...created, id: `${created.id}_copy` })).status).toBe(200);
    await settled();
    const [sub] = (await api(sys.url, "GET", "/v1/subscriptions", { user: USER })).body.data;
    expect(sub.status).toBe("canceled");
    // Billing charged the card; the wallet's books were never touched, and still balance.
    expect(await sys.tdb.db("wallet_ledger").where({ user_id: USER }).count({ n: "*" }).first()).toEqual({
      n: 0,
    });
    await expectInvariants(sys);
  });
});
