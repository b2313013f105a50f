/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are asserted field by field */
import { setTimeout as sleep } from "node:timers/promises";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { deliver } from "./support/events.js";
import { openEventCount } from "./support/seed.js";
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
 * The row's latest invoice is Stripe's `latest_invoice`, the newest invoice the subscription
 * generated, not the invoice of the newest event: two renewals are declined, and the older
 * invoice is paid after the newer one exists. Its invoice.paid is the newest event, yet the
 * subscription stays past_due on the newer, open invoice, and so does the row; a late copy of
 * that event changes nothing; paying the newer one makes both active and paid.
 */
let sys: System;
let stripe: Stripe;
beforeAll(async () => {
  sys = await startSystem({ workers: 2 });
  stripe = stripeFor(sys.standin);
}, 60_000);
afterAll(async () => sys?.stop());

const USER = "latest-invoice-user";
const settled = () => eventually(async () => (await openEventCount(sys)) === 0, { what: "events applied" });

/** The row beside Stripe's subscription, each naming its latest invoice and status. */
async function rowAndStripe(subId: string) {
  const row = await sys.tdb.db("user_subscriptions").where({ id: subId }).first();
  const s = await stripe.subscriptions.retrieve(subId, { expand: ["latest_invoice"] });
  const inv = s.latest_invoice as Stripe.Invoice;
  return {
    row: [row.status, row.latest_invoice_id, row.latest_invoice_status],
    stripe: [s.status, inv.id, inv.status],
  };
}

describe("the latest invoice", () => {
  it("stays the newer renewal's when an older open invoice is paid later", async () => {
    const plan = await createPlan(sys, { name: "Latest", amount: 900 });
    const setup = await subscribe(sys, USER, plan.id, "li-1");
    expect(setup.status).toBe(201);
    await confirmSetup(sys, setup.body.setup_intent_id);
    let sub = await subscriptionOf(sys, USER, setup.body.id, (s) => s.status === "active", "active");
    const customer = await customerOf(sys, USER);

    // The card starts failing: two renewals in a row are declined, each leaving an open invoice.
    const failing = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer });
    await stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
    await advanceClock(sys, customer, 32 * DAY_S);
    sub = await subscriptionOf(sys, USER, setup.body.id, (s) => s.status === "past_due", "past_due");
    const older = sub.latest_invoice.id as string;
    await advanceClock(sys, customer, 32 * DAY_S);
    sub = await subscriptionOf(
      sys,
      USER,
      setup.body.id,
      (s) => s.latest_invoice.id !== older && s.latest_invoice.status === "open",
      "the second renewal's invoice",
    );
    const newer = sub.latest_invoice.id as string;
    const [a, b] = await Promise.all([stripe.invoices.retrieve(older), stripe.invoices.retrieve(newer)]);
    expect(b.created).toBeGreaterThan(a.created);

    // The older invoice is paid now: its invoice.paid is the newest invoice event of all. At
    // Stripe days would pass; the stand-in's events carry the real time, so the second is waited
    // out, or a tie with the renewal's events would be settled by a fetch and hide the rule.
    await settled();
    await sleep(1_100);
    const good = await stripe.paymentMethods.attach("pm_card_visa", { customer });
    expect((await stripe.invoices.pay(older, { payment_method: good.id })).status).toBe("paid");
    const paidOlder = (await eventually(
      async () =>
        sys.standin.events().find((e) => e.type === "invoice.paid" && (e.data.object as any).id === older),
      { what: "invoice.paid of the older invoice" },
    ))!;
    await sys.standin.flushWebhooks();
    await settled();
    let both = await rowAndStripe(sub.id);
    expect(both.stripe).toEqual(["past_due", newer, "open"]);
    expect(both.row).toEqual(both.stripe);
    const shown = (await api(sys.url, "GET", `/v1/subscriptions/${sub.id}`, { user: USER })).body;
    expect(shown).toMatchObject({ status: "past_due", latest_invoice: { id: newer, status: "open" } });

    // A late copy of that event, delivered again, still names the newer invoice.
    expect((await deliver(sys.url, { ...paidOlder, id: `${paidOlder.id}_copy` })).status).toBe(200);
    await settled();
    expect((await rowAndStripe(sub.id)).row).toEqual(["past_due", newer, "open"]);

    // Paying the newer one: active, its invoice paid, at Stripe and in the row.
    await stripe.invoices.pay(newer, { payment_method: good.id });
    await subscriptionOf(
      sys,
      USER,
      setup.body.id,
      (s) => s.status === "active" && s.latest_invoice.status === "paid",
      "paid",
    );
    await settled();
    both = await rowAndStripe(sub.id);
    expect(both.stripe).toEqual(["active", newer, "paid"]);
    expect(both.row).toEqual(both.stripe);
  });
});
