/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are asserted field by field */
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcile } from "./support/reconciliation.js";
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
 * Subscription revenue in the books. At Stripe a paid invoice is a Charge on the invoice's
 * PaymentIntent with a `charge` balance transaction (and Stripe's fee) in the platform's balance;
 * Coffer books it as `in_…:paid` (stripe → subscription_revenue) from `invoice_payment.paid`, the
 * stream books the fee, and reconciliation matches the line to both. A declined attempt is a
 * failed charge that moves nothing. Through the API, the stand-in's Billing and a real worker.
 */
let sys: System;
let stripe: Stripe;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
  stripe = stripeFor(sys.standin);
}, 60_000);
afterAll(async () => sys?.stop());

const USER = "revenue-user";
const settled = () => eventually(async () => (await openEventCount(sys)) === 0, { what: "events applied" });
const postings = (key: string) => sys.tdb.db("wallet_ledger_transactions").where({ idempotency_key: key });
const revenueMinor = async () => {
  const r = await sys.tdb
    .db("wallet_ledger")
    .where({ account: "subscription_revenue", currency: "usd" })
    .sum({ s: "amount_minor" })
    .first();
  return Number(r?.s ?? 0);
};
/** The invoice's default InvoicePayment, its PaymentIntent and that PaymentIntent's charges, at Stripe. */
async function paymentOf(invoiceId: string) {
  const [record] = (await stripe.invoicePayments.list({ invoice: invoiceId })).data;
  const pi = record!.payment.payment_intent as string;
  const charges = (await stripe.charges.list({ payment_intent: pi, limit: 100 })).data;
  return { record: record!, pi, charges };
}
let customer: string;
const paidInvoices: string[] = [];
let setupId: string;
let subId: string;
let goodCard: string;

async function matchedRun() {
  await settled();
  // The stream books fees between runs; a run re-reads its window anyway.
  const run = await reconcile(sys);
  expect(run.discrepancies.data).toEqual([]);
  expect(run).toMatchObject({ status: "matched", stripe_unmatched: 0, ledger_unmatched: 0 });
  const usd = run.snapshots.find((s: { currency: string }) => s.currency === "usd");
  expect(usd).toMatchObject({ status: "matched", difference_minor: 0 });
  const balance = await stripe.balance.retrieve();
  const held = [...balance.available, ...balance.pending]
    .filter((b) => b.currency === "usd")
    .reduce((s, b) => s + b.amount, 0);
  expect(usd.ledger_position_minor).toBe(held);
  await expectInvariants(sys);
  return run;
}

describe("subscription revenue", () => {
  it("books each paid invoice once, the failed attempt not at all, and reconciles to 0", async () => {
    const balanceBefore = await stripe.balance.retrieve();
    const plan = await createPlan(sys, { name: "Team", amount: 2_000 });
    const setup = await subscribe(sys, USER, plan.id, "rev-1");
    expect(setup.status).toBe(201);
    setupId = setup.body.id;
    await confirmSetup(sys, setup.body.setup_intent_id);
    let sub = await subscriptionOf(sys, USER, setupId, (s) => s.status === "active", "active");
    customer = await customerOf(sys, USER);
    paidInvoices.push(sub.latest_invoice.id);

    // A renewal paid at once.
    await advanceClock(sys, customer, 32 * DAY_S);
    sub = await subscriptionOf(sys, USER, setupId, (s) => !paidInvoices.includes(s.latest_invoice.id));
    expect(sub.latest_invoice.status).toBe("paid");
    paidInvoices.push(sub.latest_invoice.id);

    // The next one is declined (past_due), then paid with another card: one PaymentIntent, two charges.
    const failing = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer });
    await stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
    await advanceClock(sys, customer, 32 * DAY_S);
    sub = await subscriptionOf(sys, USER, setupId, (s) => s.status === "past_due", "past_due");
    const retried = sub.latest_invoice.id as string;
    await settled();
    const declined = await paymentOf(retried);
    expect(declined.record.status).toBe("open");
    expect(declined.charges).toEqual([
      expect.objectContaining({ status: "failed", balance_transaction: null, paid: false }),
    ]);
    expect(await postings(`${retried}:paid`)).toHaveLength(0);
    const good = await stripe.paymentMethods.attach("pm_card_visa", { customer });
    await stripe.invoices.pay(retried, { payment_method: good.id });
    [subId, goodCard] = [sub.id as string, good.id];
    await subscriptionOf(sys, USER, setupId, (s) => s.status === "active", "active again");
    paidInvoices.push(retried);

    // At Stripe: each paid invoice has a succeeded PaymentIntent and one charge line with a fee.
    for (const inv of paidInvoices) {
      const { record, pi, charges } = await paymentOf(inv);
      expect(record).toMatchObject({ status: "paid", amount_paid: 2_000, currency: "usd" });
      expect((await stripe.paymentIntents.retrieve(pi)).status).toBe("succeeded");
      const paid = charges.filter((c) => c.status === "succeeded");
      expect(paid).toHaveLength(1);
      const txn = await stripe.balanceTransactions.retrieve(paid[0]!.balance_transaction as string);
      expect(txn).toMatchObject({ type: "charge", amount: 2_000, source: paid[0]!.id });
      expect(txn.fee).toBeGreaterThan(0);
    }
    const balanceAfter = await stripe.balance.retrieve();
    const usd = (b: Stripe.Balance) =>
      [...b.available, ...b.pending].filter((x) => x.currency === "usd").reduce((s, x) => s + x.amount, 0);
    expect(usd(balanceAfter) - usd(balanceBefore)).toBeGreaterThan(3 * 2_000 - 3 * 200);

    await settled();
    for (const inv of paidInvoices) expect(await postings(`${inv}:paid`)).toHaveLength(1);
    expect(await revenueMinor()).toBe(3 * 2_000);
    // The payments handler credited no wallet for the invoices' PaymentIntents.
    expect(await sys.tdb.db("wallet_ledger").where({ user_id: USER })).toEqual([]);
    await matchedRun();
  });

  it("copies of the payment's events, and the line read again, book nothing twice", async () => {
    const count = async () =>
      Number((await sys.tdb.db("wallet_ledger_transactions").count({ n: "*" }).first())?.n);
    const before = await count();
    const siblings = sys.standin
      .events()
      .filter((e) =>
        ["invoice_payment.paid", "invoice.paid", "payment_intent.succeeded", "charge.succeeded"].includes(
          e.type,
        ),
      );
    expect(siblings.filter((e) => e.type === "invoice_payment.paid")).toHaveLength(3);
    for (let i = 0; i < 2; i++) for (const e of siblings) sys.standin.redeliverEvent(e.id);
    await sys.standin.flushWebhooks();
    await settled();
    await matchedRun();
    expect(await count()).toBe(before);
    expect(await revenueMinor()).toBe(3 * 2_000);
  });

  it("a line the stream reads before its invoice's event, or whose event never came, converges", async () => {
    // The renewal's invoice_payment.paid is not delivered: the stream meets the charge first.
    await stripe.subscriptions.update(subId, { default_payment_method: goodCard });
    sys.standin.dropWebhooks({ types: ["invoice_payment.paid"] });
    await advanceClock(sys, customer, 32 * DAY_S);
    const sub = await subscriptionOf(sys, USER, setupId, (s) => !paidInvoices.includes(s.latest_invoice.id));
    const late = sub.latest_invoice.id as string;
    paidInvoices.push(late);
    sys.standin.dropWebhooks(undefined);
    const { charges } = await paymentOf(late);
    const txnId = charges[0]!.balance_transaction as string;
    await eventually(
      async () => (await sys.tdb.db("stripe_balance_transactions").where({ id: txnId })).length === 1,
      {
        what: "the stream read the renewal's charge",
      },
    );
    await settled();
    expect(await postings(`${late}:paid`)).toHaveLength(0);

    // A run heals it from Stripe's events: the invoice is booked once, the fee once, and it matches.
    const run = await matchedRun();
    expect(run.healed_events).toEqual([expect.objectContaining({ type: "invoice_payment.paid" })]);
    expect(await postings(`${late}:paid`)).toHaveLength(1);
    expect(await postings(`${txnId}:fee`)).toHaveLength(1);

    // Stripe delivers it after all: a duplicate, nothing moves.
    const dropped = sys.standin
      .events()
      .find((e) => e.type === "invoice_payment.paid" && (e.data.object as any).invoice === late)!;
    sys.standin.redeliverEvent(dropped.id);
    await sys.standin.flushWebhooks();
    await settled();
    expect(await postings(`${late}:paid`)).toHaveLength(1);
    expect(await revenueMinor()).toBe(4 * 2_000);
    await matchedRun();
  });

  it("the event arriving after the stream read the line claims it at once, fee and all", async () => {
    sys.standin.dropWebhooks({ types: ["invoice_payment.paid"] });
    await advanceClock(sys, customer, 32 * DAY_S);
    const sub = await subscriptionOf(sys, USER, setupId, (s) => !paidInvoices.includes(s.latest_invoice.id));
    const late = sub.latest_invoice.id as string;
    paidInvoices.push(late);
    sys.standin.dropWebhooks(undefined);
    const { charges } = await paymentOf(late);
    const txnId = charges[0]!.balance_transaction as string;
    const line = () => sys.tdb.db("stripe_balance_transactions").where({ id: txnId }).first();
    await eventually(async () => (await line()) !== undefined, { what: "the stream read the charge" });
    await settled();
    expect((await line()).unexplained).toMatch(/did not create/);
    expect(await postings(`${txnId}:fee`)).toHaveLength(0);

    const dropped = sys.standin
      .events()
      .find((e) => e.type === "invoice_payment.paid" && (e.data.object as any).invoice === late)!;
    sys.standin.redeliverEvent(dropped.id);
    await sys.standin.flushWebhooks();
    await settled();
    // No run yet: the booking itself claimed the line and booked its fee.
    expect((await line()).unexplained).toBeNull();
    expect(await postings(`${late}:paid`)).toHaveLength(1);
    expect(await postings(`${txnId}:fee`)).toHaveLength(1);
    const claims = await sys.tdb
      .db("stripe_balance_transaction_claims")
      .where({ balance_transaction_id: txnId });
    expect(claims.map((c: any) => c.ledger_key).sort()).toEqual([`${late}:paid`, `${txnId}:fee`].sort());
    const run = await matchedRun();
    expect(run.healed_events).toEqual([]);
    expect(await revenueMinor()).toBe(5 * 2_000);
  });
});
