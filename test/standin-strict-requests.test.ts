import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import type { Standin } from "../src/standin/index.js";
import { stripeFailure, stripeFor } from "./support/stripe-client.js";

/**
 * Requests Stripe refuses or answers differently from what a kinder stand-in would: idempotency
 * keys over 255 characters, `expand` paths Stripe cannot expand, and a charge's `refunds`, which
 * Stripe leaves out unless expanded since API version 2022-11-15.
 */

let standin: Standin;
let stripe: Stripe;
beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

const created = (tag: string) =>
  standin
    .events()
    .filter(
      (e) => e.type === "payment_intent.created" && (e.data.object.metadata as { tag?: string }).tag === tag,
    ).length;

describe("idempotency keys", () => {
  it("refuses a key over 255 characters with Stripe's idempotency error, before acting", async () => {
    const tag = randomUUID();
    const params = { amount: 1000, currency: "usd", metadata: { tag } };
    const long = `connect:${"u".repeat(240)}:account`;
    expect(long).toHaveLength(256);
    const err = await stripeFailure(stripe.paymentIntents.create(params, { idempotencyKey: long }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err).toMatchObject({ statusCode: 400, rawType: "idempotency_error" });
    expect(err.message).toBe(
      "Idempotent key length is 256 characters long, which is outside accepted lengths. Idempotent Keys " +
        "must be 1-255 characters long. If you're looking for a decent generator, try using a UUID " +
        "defined by IETF RFC 4122.",
    );
    expect(created(tag)).toBe(0);

    const longest = "k".repeat(254) + tag.slice(0, 1);
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: longest });
    const again = await stripe.paymentIntents.create(params, { idempotencyKey: longest });
    expect(again.id).toBe(first.id);
    expect(created(tag)).toBe(1);
  });
});

describe("expand", () => {
  it("refuses what Stripe cannot expand, even where a kinder reading would have worked", async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 2000,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
      metadata: { tag: "expand" },
    });
    const metadata = await stripeFailure(stripe.paymentIntents.retrieve(pi.id, { expand: ["metadata"] }));
    expect(metadata).toMatchObject({ statusCode: 400, param: "expand" });
    expect(metadata.message).toBe("This property cannot be expanded (metadata).");
    const typo = await stripeFailure(stripe.paymentIntents.retrieve(pi.id, { expand: ["latest_charges"] }));
    expect(typo.message).toBe("This property cannot be expanded (latest_charges).");
    // An id field Stripe does not expand (the charge's currency is not an object either).
    const notLink = await stripeFailure(
      stripe.charges.retrieve(pi.latest_charge as string, { expand: ["currency"] }),
    );
    expect(notLink.statusCode).toBe(400);

    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    const dispute = await fetch(`${standin.url}/_standin/charges/${pi.latest_charge as string}/dispute`, {
      method: "POST",
      body: "{}",
    });
    const disputeId = ((await dispute.json()) as { id: string }).id;
    // Always expanded, so never expandable.
    const always = await stripeFailure(
      stripe.disputes.retrieve(disputeId, { expand: ["balance_transactions"] }),
    );
    expect(always.message).toBe("This property cannot be expanded (balance_transactions).");
    const event = standin
      .events()
      .find((e) => e.type === "payment_intent.created" && e.data.object.id === pi.id);
    const eventObject = await stripeFailure(
      stripe.events.retrieve(event?.id ?? "", { expand: ["data.object"] }),
    );
    expect(eventObject.statusCode).toBe(400);
    // A list expands through `data`, and says so when asked without it.
    const list = await stripeFailure(stripe.refunds.list({ payment_intent: pi.id, expand: ["charge"] }));
    expect(list.message).toBe(
      "This property cannot be expanded (charge). You may want to try expanding 'data.charge' instead.",
    );

    // What Stripe does expand still works, to depth four.
    const deep = await stripe.refunds.retrieve(refund.id, {
      expand: ["charge.payment_intent.latest_charge.balance_transaction", "balance_transaction"],
    });
    const charge = deep.charge as Stripe.Charge;
    const viaPi = (charge.payment_intent as Stripe.PaymentIntent).latest_charge as Stripe.Charge;
    expect((viaPi.balance_transaction as Stripe.BalanceTransaction).object).toBe("balance_transaction");
    expect((deep.balance_transaction as Stripe.BalanceTransaction).source).toBe(refund.id);
    const listed = await stripe.refunds.list({ payment_intent: pi.id, expand: ["data.charge"] });
    expect((listed.data[0]?.charge as Stripe.Charge).object).toBe("charge");
    const tooDeep = await stripeFailure(
      stripe.refunds.retrieve(refund.id, {
        expand: ["charge.payment_intent.latest_charge.balance_transaction.source"],
      }),
    );
    expect(tooDeep.statusCode).toBe(400);
  });
});

describe("charge.refunds", () => {
  it("is absent from charges and their events unless expanded, and lists refunds newest first when it is", async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 3000,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const chargeId = pi.latest_charge as string;
    const first = await stripe.refunds.create({ charge: chargeId, amount: 1000 });
    const second = await stripe.refunds.create({ charge: chargeId, amount: 500 });
    const plain = await stripe.charges.retrieve(chargeId);
    expect(plain).not.toHaveProperty("refunds");
    expect(plain.amount_refunded).toBe(1500);
    const snapshots = standin
      .events()
      .filter((e) => e.data.object.id === chargeId)
      .map((e) => e.data.object);
    expect(snapshots.length).toBeGreaterThan(0);
    expect(snapshots.every((o) => !("refunds" in o))).toBe(true);

    const expanded = await stripe.charges.retrieve(chargeId, { expand: ["refunds"] });
    expect(expanded.refunds).toMatchObject({
      object: "list",
      has_more: false,
      url: `/v1/charges/${chargeId}/refunds`,
    });
    expect(expanded.refunds?.data.map((r) => r.id)).toEqual([second.id, first.id]);
    const nested = await stripe.paymentIntents.retrieve(pi.id, {
      expand: ["latest_charge.refunds.data.balance_transaction"],
    });
    const refunds = (nested.latest_charge as Stripe.Charge).refunds?.data ?? [];
    expect(refunds.map((r) => (r.balance_transaction as Stripe.BalanceTransaction).amount)).toEqual([
      -500, -1000,
    ]);
    const listed = await stripe.charges.list({ payment_intent: pi.id, expand: ["data.refunds"] });
    expect(listed.data[0]?.refunds?.data).toHaveLength(2);
  });
});
