import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import { standinControl, stripeFailure, stripeFor } from "./support/stripe-client.js";
import type { Standin, StripeEvent } from "../src/standin/index.js";

let standin: Standin;
let stripe: Stripe;

beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

/** A control call (Stripe's side of the lifecycle): status and JSON body. */
const control = <T = Record<string, unknown>>(path: string, body?: unknown) =>
  standinControl<T>(standin.url, path, body);

/** A captured card payment; returns its PaymentIntent and Charge ids. */
async function paid(amount: number, currency = "usd"): Promise<{ pi: string; charge: string }> {
  const pi = await stripe.paymentIntents.create({
    amount,
    currency,
    payment_method: "pm_card_visa",
    confirm: true,
  });
  return { pi: pi.id, charge: pi.latest_charge as string };
}

/** Events about a charge's refunds and disputes (not the payment itself), oldest first. */
function eventsFor(chargeId: string): StripeEvent[] {
  return standin
    .events()
    .filter((e) => e.type !== "charge.succeeded")
    .filter((e) => e.data.object.id === chargeId || e.data.object.charge === chargeId);
}
const types = (events: StripeEvent[]) => events.map((e) => e.type);

async function txn(id: unknown): Promise<Stripe.BalanceTransaction> {
  return stripe.balanceTransactions.retrieve(id as string);
}

describe("refunds", () => {
  it("refunds a whole payment by PaymentIntent: refund balance transaction, charge, events", async () => {
    const { pi, charge } = await paid(2000);
    const refund = await stripe.refunds.create({ payment_intent: pi, reason: "requested_by_customer" });
    expect(refund).toMatchObject({
      object: "refund",
      amount: 2000,
      charge,
      payment_intent: pi,
      currency: "usd",
      status: "succeeded",
      reason: "requested_by_customer",
    });
    expect(refund.id).toMatch(/^re_/);
    expect(await txn(refund.balance_transaction)).toMatchObject({
      type: "refund",
      reporting_category: "refund",
      amount: -2000,
      fee: 0,
      net: -2000,
      source: refund.id,
      status: "available",
    });
    const after = await stripe.charges.retrieve(charge);
    expect(after).toMatchObject({ amount_refunded: 2000, refunded: true });
    // Since API 2022-11-15 a charge carries its refunds only when asked for them.
    expect(after).not.toHaveProperty("refunds");
    const withRefunds = await stripe.charges.retrieve(charge, { expand: ["refunds"] });
    expect(withRefunds.refunds?.data.map((r) => r.id)).toEqual([refund.id]);

    const events = eventsFor(charge);
    expect(types(events)).toEqual(["refund.created", "charge.refunded"]);
    expect(events[0]?.data.object).toMatchObject({ id: refund.id, status: "succeeded" });
    expect(events[1]?.data.object).toMatchObject({ id: charge, amount_refunded: 2000, refunded: true });
    const again = await stripeFailure(stripe.refunds.create({ charge }));
    expect(again).toMatchObject({ statusCode: 400, code: "charge_already_refunded" });
  });

  it("adds up partial refunds on the charge and in each charge.refunded snapshot", async () => {
    const { pi, charge } = await paid(3000);
    const first = await stripe.refunds.create({ charge, amount: 1000 });
    const second = await stripe.refunds.create({ payment_intent: pi, amount: 500 });
    const snapshots = eventsFor(charge)
      .filter((e) => e.type === "charge.refunded")
      .map((e) => [e.data.object.amount_refunded, e.data.object.refunded]);
    expect(snapshots).toEqual([
      [1000, false],
      [1500, false],
    ]);
    const after = await stripe.charges.retrieve(charge, { expand: ["refunds"] });
    expect(after).toMatchObject({ amount_refunded: 1500, refunded: false });
    expect(after.refunds?.data.map((r) => r.id)).toEqual([second.id, first.id]);
    expect((await stripe.refunds.list({ charge })).data.map((r) => r.id)).toEqual([second.id, first.id]);
    const page = await stripe.refunds.list({ payment_intent: pi, limit: 1, starting_after: second.id });
    expect(page.data.map((r) => r.id)).toEqual([first.id]);
    expect(page.has_more).toBe(false);
  });

  it("refuses over-refunds, unrefundable charges and missing params, creating nothing", async () => {
    const { charge } = await paid(1000);
    await stripe.refunds.create({ charge, amount: 600 });
    const tooMuch = await stripeFailure(stripe.refunds.create({ charge, amount: 500 }));
    expect(tooMuch).toMatchObject({ statusCode: 400, code: "amount_too_large", param: "amount" });
    expect(tooMuch.message).toBe("Refund amount ($5.00) is greater than unrefunded amount on charge ($4.00)");
    expect((await stripeFailure(stripe.refunds.create({ charge, amount: 0 }))).param).toBe("amount");
    expect((await stripe.charges.retrieve(charge)).amount_refunded).toBe(600);
    expect(types(eventsFor(charge))).toEqual(["refund.created", "charge.refunded"]);

    const held = await stripe.paymentIntents.create({
      amount: 900,
      currency: "usd",
      capture_method: "manual",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const uncaptured = await stripeFailure(stripe.refunds.create({ charge: held.latest_charge as string }));
    expect(uncaptured).toMatchObject({ statusCode: 400, code: "charge_not_refundable" });
    expect((await stripeFailure(stripe.refunds.create({}))).code).toBe("parameter_missing");
    const missing = await stripeFailure(stripe.refunds.create({ charge: "ch_nope" }));
    expect(missing).toMatchObject({ statusCode: 404, code: "resource_missing", param: "charge" });
  });

  it("fails a pending refund: amount back on the charge, refund_failure transaction, events", async () => {
    const { charge } = await paid(4000);
    const refund = await stripe.refunds.create({
      charge,
      amount: 1500,
      metadata: { standin_status: "pending" },
    });
    expect(refund.status).toBe("pending");
    expect((await stripe.charges.retrieve(charge)).amount_refunded).toBe(1500);

    const failed = await control(`/refunds/${refund.id}/fail`, { failure_reason: "lost_or_stolen_card" });
    expect(failed).toMatchObject({ status: 200, body: { status: "failed" } });
    const after = await stripe.refunds.retrieve(refund.id, { expand: ["failure_balance_transaction"] });
    expect(after).toMatchObject({ status: "failed", failure_reason: "lost_or_stolen_card" });
    expect(after.failure_balance_transaction).toMatchObject({
      type: "refund_failure",
      reporting_category: "refund_failure",
      amount: 1500,
      net: 1500,
      source: refund.id,
    });
    expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 0, refunded: false });
    const booked = await stripe.balanceTransactions.list({ source: refund.id });
    expect(booked.data.map((t) => t.amount)).toEqual([1500, -1500]);

    const events = eventsFor(charge);
    expect(types(events)).toEqual([
      "refund.created",
      "charge.refunded",
      "refund.failed",
      "refund.updated",
      "charge.refund.updated",
    ]);
    expect(events[4]?.data).toMatchObject({
      object: { status: "failed" },
      previous_attributes: { status: "pending" },
    });
    const twice = await control<{ error: { message: string } }>(`/refunds/${refund.id}/succeed`);
    expect(twice.status).toBe(400);
    expect(twice.body.error.message).toMatch(/status of failed/);
  });

  it("succeeds a pending refund, and can still fail it afterwards as Stripe may", async () => {
    const { charge } = await paid(1200);
    const refund = await stripe.refunds.create({ charge, metadata: { standin_status: "pending" } });
    expect((await control(`/refunds/${refund.id}/succeed`)).body).toMatchObject({ status: "succeeded" });
    expect((await control(`/refunds/${refund.id}/fail`)).body).toMatchObject({
      status: "failed",
      failure_reason: "expired_or_canceled_card",
    });
    expect(types(eventsFor(charge)).slice(2)).toEqual([
      "refund.updated",
      "charge.refund.updated",
      "refund.failed",
      "refund.updated",
      "charge.refund.updated",
    ]);
    expect((await stripe.charges.retrieve(charge)).amount_refunded).toBe(0);
  });

  it("cancels only a refund in requires_action, never a pending or succeeded one", async () => {
    const { charge } = await paid(2500);
    const waiting = await stripe.refunds.create({
      charge,
      amount: 700,
      metadata: { standin_status: "requires_action" },
    });
    const canceled = await stripe.refunds.cancel(waiting.id);
    expect(canceled).toMatchObject({ status: "canceled", failure_reason: "merchant_request" });
    expect(await txn(canceled.failure_balance_transaction)).toMatchObject({
      type: "refund_failure",
      amount: 700,
    });
    expect((await stripe.charges.retrieve(charge)).amount_refunded).toBe(0);
    expect(types(eventsFor(charge)).slice(2)).toEqual(["refund.updated", "charge.refund.updated"]);

    // Stripe: "You can't cancel refunds in other states." A pending refund is on its way.
    const pending = await stripe.refunds.create({
      charge,
      amount: 200,
      metadata: { standin_status: "pending" },
    });
    const notPending = await stripeFailure(stripe.refunds.cancel(pending.id));
    expect(notPending).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(notPending.message).toMatch(/status of pending.*may be canceled: requires_action\./);
    const done = await stripe.refunds.create({ charge, amount: 300 });
    const refused = await stripeFailure(stripe.refunds.cancel(done.id));
    expect(refused.message).toMatch(/cannot be canceled because it has a status of succeeded/);
    expect((await stripe.refunds.retrieve(pending.id)).status).toBe("pending");
    expect((await stripe.refunds.retrieve(done.id)).status).toBe("succeeded");
    expect((await stripe.charges.retrieve(charge)).amount_refunded).toBe(500);
  });

  it("replays a refund created twice with one Idempotency-Key, refunding once", async () => {
    const { charge } = await paid(5000);
    const key = `refund-${randomUUID()}`;
    const first = await stripe.refunds.create({ charge, amount: 1000 }, { idempotencyKey: key });
    const second = await stripe.refunds.create({ charge, amount: 1000 }, { idempotencyKey: key });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect((await stripe.charges.retrieve(charge)).amount_refunded).toBe(1000);
    expect(types(eventsFor(charge))).toEqual(["refund.created", "charge.refunded"]);
    const other = await stripeFailure(
      stripe.refunds.create({ charge, amount: 999 }, { idempotencyKey: key }),
    );
    expect(other.rawType).toBe("idempotency_error");
  });

  it("shows refunds in the balance: the charge's net pending, the refund out of available", async () => {
    const { charge } = await paid(10_000, "chf");
    await stripe.refunds.create({ charge, amount: 4000 });
    const balance = await stripe.balance.retrieve();
    const chf = (rows: Stripe.Balance.Available[]) => rows.find((r) => r.currency === "chf")?.amount;
    // round(10000 × 290 / 10000) + 30 = 320 fee on the charge; the refund costs no fee.
    expect([chf(balance.pending), chf(balance.available)]).toEqual([9680, -4000]);
  });
});

type Dispute = Stripe.Dispute & { error?: { message: string; code?: string } };

describe("disputes", () => {
  it("withdraws amount and fee on a chargeback, reinstates the amount when won", async () => {
    const { pi, charge } = await paid(5000);
    const opened = await control<Dispute>(`/charges/${charge}/dispute`, { reason: "fraudulent" });
    expect(opened.status).toBe(200);
    const id = opened.body.id;
    expect(id).toMatch(/^dp_/);
    const dispute = await stripe.disputes.retrieve(id);
    expect(dispute).toMatchObject({
      amount: 5000,
      currency: "usd",
      charge,
      payment_intent: pi,
      status: "needs_response",
      reason: "fraudulent",
      is_charge_refundable: false,
    });
    expect(dispute.balance_transactions).toHaveLength(1);
    expect(dispute.balance_transactions[0]).toMatchObject({
      object: "balance_transaction",
      type: "adjustment",
      reporting_category: "dispute",
      amount: -5000,
      fee: 1500,
      net: -6500,
      source: id,
      fee_details: [{ amount: 1500, currency: "usd", description: "Dispute fee", type: "stripe_fee" }],
    });
    expect((await stripe.charges.retrieve(charge)).disputed).toBe(true);
    expect((await stripeFailure(stripe.refunds.create({ charge }))).code).toBe("charge_disputed");

    expect((await control(`/disputes/${id}/update`, { status: "under_review" })).status).toBe(200);
    const won = await control<Dispute>(`/disputes/${id}/close`, { outcome: "won" });
    expect(won.body.status).toBe("won");
    const closed = await stripe.disputes.retrieve(id);
    expect(closed.balance_transactions.map((t) => [t.amount, t.fee, t.net, t.reporting_category])).toEqual([
      [-5000, 1500, -6500, "dispute"],
      [5000, 0, 5000, "dispute_reversal"],
    ]);
    expect(closed.evidence_details).toMatchObject({ has_evidence: true, submission_count: 1 });

    const events = eventsFor(charge);
    expect(types(events)).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.updated",
      "charge.dispute.closed",
      // After the close, as Stripe documents it: its snapshot already says won.
      "charge.dispute.funds_reinstated",
    ]);
    const snap = events.map((e) => [e.data.object.status, (e.data.object.balance_transactions as []).length]);
    expect(snap).toEqual([
      ["needs_response", 1],
      ["needs_response", 1],
      ["under_review", 1],
      ["won", 2],
      ["won", 2],
    ]);
    expect(events[2]?.data.previous_attributes).toEqual({ status: "needs_response" });
    expect((await stripe.disputes.list({ charge })).data.map((d) => d.id)).toEqual([id]);
    expect((await stripe.disputes.list({ payment_intent: pi })).data.map((d) => d.id)).toEqual([id]);
    expect((await stripe.balanceTransactions.list({ source: id })).data).toHaveLength(2);
  });

  it("keeps the money withdrawn when lost; a partial amount; a closed dispute stays closed", async () => {
    const { charge } = await paid(3000);
    const { body } = await control<Dispute>(`/charges/${charge}/dispute`, { amount: 1200 });
    const lost = await control<Dispute>(`/disputes/${body.id}/close`, { outcome: "lost" });
    expect(lost.body).toMatchObject({ status: "lost", amount: 1200 });
    const dispute = await stripe.disputes.retrieve(body.id);
    expect(dispute.balance_transactions.map((t) => t.net)).toEqual([-2700]);
    expect(types(eventsFor(charge))).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
    ]);
    const again = await control<Dispute>(`/disputes/${body.id}/close`, { outcome: "won" });
    expect(again.status).toBe(400);
    expect(again.body.error?.message).toMatch(/already closed/);
    expect((await control(`/charges/${charge}/dispute`, {})).status).toBe(400); // one dispute per charge
    expect((await control(`/charges/${charge}/dispute`, { amount: 3001 })).status).toBe(400);
  });

  it("moves no money on an inquiry, which closes as warning_closed", async () => {
    const { charge } = await paid(2000);
    const { body } = await control<Dispute>(`/charges/${charge}/dispute`, {
      inquiry: true,
      reason: "general",
    });
    expect(body).toMatchObject({ status: "warning_needs_response", is_charge_refundable: true });
    expect(body.payment_method_details?.card?.case_type).toBe("inquiry");
    const escalate = await control(`/disputes/${body.id}/update`, { status: "under_review" });
    expect(escalate.status).toBe(400);
    await control(`/disputes/${body.id}/update`, { status: "warning_under_review" });
    // An inquiry leaves the charge refundable.
    await stripe.refunds.create({ charge, amount: 500 });
    const closed = await control<Dispute>(`/disputes/${body.id}/close`, { outcome: "lost" });
    expect(closed.body).toMatchObject({ status: "warning_closed", balance_transactions: [] });
    expect((await stripe.balanceTransactions.list({ source: body.id })).data).toEqual([]);
    expect(types(eventsFor(charge))).toEqual([
      "charge.dispute.created",
      "charge.dispute.updated",
      "refund.created",
      "charge.refunded",
      "charge.dispute.closed",
    ]);
  });

  it("validates control bodies", async () => {
    const { charge } = await paid(1000);
    expect((await control(`/charges/${charge}/dispute`, { amount: -5 })).status).toBe(400);
    expect((await control(`/charges/${charge}/dispute`, { reason: "bored" })).status).toBe(400);
    const { body } = await control<Dispute>(`/charges/${charge}/dispute`, {});
    expect((await control(`/disputes/${body.id}/close`, { outcome: "draw" })).status).toBe(400);
    expect((await control(`/disputes/${body.id}/update`, { status: "won" })).status).toBe(400);
    expect((await stripe.disputes.retrieve(body.id)).status).toBe("needs_response");
  });
});

describe("unknown ids", () => {
  it("answers 404 resource_missing on the API and on the controls", async () => {
    const refund = await stripeFailure(stripe.refunds.retrieve("re_nope"));
    expect(refund).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      message: "No such refund: 're_nope'",
    });
    const dispute = await stripeFailure(stripe.disputes.retrieve("dp_nope"));
    expect(dispute).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      message: "No such dispute: 'dp_nope'",
    });
    expect((await stripeFailure(stripe.refunds.cancel("re_nope"))).statusCode).toBe(404);
    for (const path of ["/refunds/re_nope/succeed", "/refunds/re_nope/fail", "/charges/ch_nope/dispute"]) {
      const reply = await control<{ error: { code: string } }>(path, {});
      expect([path, reply.status, reply.body.error.code]).toEqual([path, 404, "resource_missing"]);
    }
    const close = await control<{ error: { code: string } }>("/disputes/dp_nope/close", { outcome: "won" });
    expect([close.status, close.body.error.code]).toEqual([404, "resource_missing"]);
  });
});
