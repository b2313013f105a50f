import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import type { Standin } from "../src/standin/index.js";
import { standinControl, stripeFailure, stripeFor } from "./support/stripe-client.js";

/**
 * Non-card payments: what `automatic_payment_methods` offers besides cards. A bank debit's charge
 * is a `py_…` payment and its refunds are `pyr_…`, as at Stripe; the debit is `processing` until
 * the bank pays it, and bank refunds are `pending` until the bank pays them back.
 */

let standin: Standin;
let stripe: Stripe;
beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

const control = <T = Record<string, unknown>>(path: string, body?: unknown) =>
  standinControl<T>(standin.url, path, body);

/** Types of the events about one PaymentIntent (itself, its charges and their refunds), oldest first. */
const typesFor = (piId: string) =>
  standin
    .events()
    .filter((e) => e.data.object.id === piId || e.data.object.payment_intent === piId)
    .map((e) => e.type);

async function bankTopUp(amount: number, currency = "usd") {
  return stripe.paymentIntents.create({ amount, currency, automatic_payment_methods: { enabled: true } });
}

describe("bank debits", () => {
  it("pays by ACH: processing with a pending py_ payment, then succeeded once the bank pays", async () => {
    const pi = await bankTopUp(12_000);
    expect(pi.payment_method_types).toEqual(["card", "us_bank_account"]);
    const paying = await control<Stripe.PaymentIntent>(`/payment_intents/${pi.id}/pay`, {
      payment_method: "pm_usBankAccount_success",
    });
    expect(paying.body).toMatchObject({ status: "processing", amount_received: 0 });
    const paymentId = paying.body.latest_charge as string;
    expect(paymentId).toMatch(/^py_[0-9A-Za-z]{24}$/);
    const pending = await stripe.charges.retrieve(paymentId);
    expect(pending).toMatchObject({
      status: "pending",
      paid: false,
      captured: false,
      balance_transaction: null,
      payment_method_details: { type: "us_bank_account", us_bank_account: { last4: "6789" } },
    });
    const early = await stripeFailure(stripe.refunds.create({ payment_intent: pi.id }));
    expect(early).toMatchObject({ statusCode: 400, code: "charge_not_refundable" });

    const cleared = await control<Stripe.Charge>(`/charges/${paymentId}/succeed`, {});
    expect(cleared.body).toMatchObject({ status: "succeeded", paid: true, amount_captured: 12_000 });
    const after = await stripe.paymentIntents.retrieve(pi.id, {
      expand: ["latest_charge.balance_transaction"],
    });
    expect(after).toMatchObject({ status: "succeeded", amount_received: 12_000 });
    const txn = (after.latest_charge as Stripe.Charge).balance_transaction as Stripe.BalanceTransaction;
    expect(txn).toMatchObject({ type: "charge", source: paymentId, amount: 12_000, status: "pending" });
    expect(typesFor(pi.id)).toEqual([
      "payment_intent.created",
      "charge.pending",
      "payment_intent.processing",
      "charge.succeeded",
      "payment_intent.succeeded",
    ]);
    expect((await control(`/charges/${paymentId}/succeed`, {})).status).toBe(400); // cleared once
  });

  it("refunds a py_ payment twice with pyr_ refunds that stay pending until the bank pays them", async () => {
    const pi = await bankTopUp(5000);
    const paymentId = (await control(`/payment_intents/${pi.id}/pay`, { payment_method: "pm_usBankAccount" }))
      .body.latest_charge as string;
    await control(`/charges/${paymentId}/succeed`, {});
    const first = await stripe.refunds.create({ payment_intent: pi.id, amount: 1500 });
    const second = await stripe.refunds.create({ charge: paymentId, amount: 1000 });
    for (const refund of [first, second]) {
      expect(refund.id).toMatch(/^pyr_[0-9A-Za-z]{24}$/);
      expect(refund).toMatchObject({
        charge: paymentId,
        payment_intent: pi.id,
        status: "pending",
        destination_details: { type: "us_bank_account" },
      });
      // Counted against the balance and the payment at once, as Stripe books any new refund.
      expect((await stripe.balanceTransactions.retrieve(refund.balance_transaction as string)).source).toBe(
        refund.id,
      );
    }
    expect(await stripe.charges.retrieve(paymentId)).toMatchObject({
      amount_refunded: 2500,
      refunded: false,
    });
    expect((await control(`/refunds/${first.id}/succeed`, {})).body).toMatchObject({ status: "succeeded" });
    expect((await control(`/refunds/${second.id}/fail`, {})).body).toMatchObject({ status: "failed" });
    expect(await stripe.charges.retrieve(paymentId)).toMatchObject({ amount_refunded: 1500 });
    const refunds = await stripe.refunds.list({ payment_intent: pi.id });
    expect(refunds.data.map((r) => [r.id, r.status])).toEqual([
      [second.id, "failed"],
      [first.id, "succeeded"],
    ]);
  });

  it("a returned debit fails the payment, moves no money, and lets the customer pay again", async () => {
    const pi = await bankTopUp(3000);
    const paymentId = (await control(`/payment_intents/${pi.id}/pay`, { payment_method: "pm_usBankAccount" }))
      .body.latest_charge as string;
    const failed = await control<Stripe.Charge>(`/charges/${paymentId}/fail`, {
      failure_code: "account_closed",
    });
    expect(failed.body).toMatchObject({ status: "failed", failure_code: "account_closed", paid: false });
    const after = await stripe.paymentIntents.retrieve(pi.id);
    expect(after).toMatchObject({ status: "requires_payment_method", payment_method: null });
    expect(after.last_payment_error).toMatchObject({ payment_method_type: "us_bank_account" });
    expect((await stripe.balanceTransactions.list({ source: paymentId })).data).toEqual([]);
    expect(typesFor(pi.id).slice(-2)).toEqual(["charge.failed", "payment_intent.payment_failed"]);
    const retried = await control<Stripe.PaymentIntent>(`/payment_intents/${pi.id}/pay`, {});
    expect(retried.body).toMatchObject({ status: "succeeded" });
    expect(retried.body.latest_charge).toMatch(/^ch_/);
  });

  it("debits SEPA in eur only, and only where the PaymentIntent allows the method", async () => {
    const eur = await bankTopUp(2000, "eur");
    expect(eur.payment_method_types).toEqual(["card", "sepa_debit"]);
    const sepa = await control<Stripe.PaymentIntent>(`/payment_intents/${eur.id}/pay`, {
      payment_method: "pm_sepaDebit",
    });
    expect(sepa.body.status).toBe("processing");
    expect(sepa.body.latest_charge).toMatch(/^py_/);

    const achInEur = await bankTopUp(2000, "eur");
    const wrongScheme = await control<{ error: { code: string; param: string } }>(
      `/payment_intents/${achInEur.id}/pay`,
      { payment_method: "pm_usBankAccount" },
    );
    expect(wrongScheme.status).toBe(400);
    expect(wrongScheme.body.error).toMatchObject({
      code: "payment_intent_invalid_parameter",
      param: "payment_method",
    });

    const cardOnly = await stripe.paymentIntents.create({
      amount: 2000,
      currency: "usd",
      allowed_payment_method_types: ["card"],
    });
    expect(cardOnly).toMatchObject({
      allowed_payment_method_types: ["card"],
      payment_method_types: ["card"],
    });
    const refused = await stripeFailure(
      stripe.paymentIntents.confirm(cardOnly.id, { payment_method: "pm_usBankAccount_success" }),
    );
    expect(refused).toMatchObject({ statusCode: 400, code: "payment_intent_invalid_parameter" });
    expect(refused.message).toMatch(/^The PaymentMethod provided \(us_bank_account\) is not allowed/);
    expect((await stripe.charges.list({ payment_intent: cardOnly.id })).data).toEqual([]);
  });
});
