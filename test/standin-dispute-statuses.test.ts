import { readFileSync } from "node:fs";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import type { Standin, StripeEvent } from "../src/standin/index.js";
import { LIFECYCLES, control as lifecycleControl } from "./support/lifecycles.js";
import { standinControl, stripeFailure, stripeFor } from "./support/stripe-client.js";

/**
 * Every dispute status in stripe 23.1.0's `Dispute.Status`, reached through the stand-in's
 * controls with the events Stripe sends and the balance transactions it books: a prevented
 * dispute books nothing, an appeal follows a lost chargeback, and a won appeal reinstates the
 * amount once.
 */

let standin: Standin;
let stripe: Stripe;
beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

type Dispute = Stripe.Dispute & { error?: { message: string } };
const control = <T = Dispute>(path: string, body: unknown = {}) => standinControl<T>(standin.url, path, body);

async function paidCharge(amount: number): Promise<string> {
  const pi = await stripe.paymentIntents.create({
    amount,
    currency: "usd",
    payment_method: "pm_card_visa",
    confirm: true,
  });
  return pi.latest_charge as string;
}

function eventsOf(disputeId: string): StripeEvent[] {
  return standin.events().filter((e) => e.data.object.id === disputeId);
}
const snapshot = (e: StripeEvent) => [
  e.type,
  e.data.object.status,
  (e.data.object.balance_transactions as []).length,
];

/** The statuses the SDK's type declares, read from its own declaration file. */
function sdkDisputeStatuses(): string[] {
  const dts = readFileSync(
    new URL("../node_modules/stripe/esm/resources/Disputes.d.ts", import.meta.url),
    "utf8",
  );
  const union = /type Status = ([^;]+);/.exec(dts)?.[1] ?? "";
  return [...union.matchAll(/'([a-z_]+)'/g)].map((m) => m[1] ?? "").sort();
}

describe("dispute statuses", () => {
  it("prevented: final at once, no withdrawal, no fee, the charge still refundable", async () => {
    const charge = await paidCharge(4000);
    const { status, body } = await control(`/charges/${charge}/dispute`, { prevented: true });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "prevented", balance_transactions: [], is_charge_refundable: true });
    expect(body.payment_method_details?.card?.case_type).toBe("block");
    expect((await stripe.balanceTransactions.list({ source: body.id })).data).toEqual([]);
    expect(eventsOf(body.id).map(snapshot)).toEqual([
      ["charge.dispute.created", "prevented", 0],
      ["charge.dispute.closed", "prevented", 0],
    ]);
    expect((await control(`/disputes/${body.id}/close`, { outcome: "lost" })).status).toBe(400);
    expect((await control(`/disputes/${body.id}/update`, { status: "under_review" })).status).toBe(400);
    await expect(stripe.refunds.create({ charge, amount: 1000 })).resolves.toMatchObject({
      status: "succeeded",
    });
    const both = await control(`/charges/${await paidCharge(1000)}/dispute`, {
      prevented: true,
      inquiry: true,
    });
    expect(both.status).toBe(400);
  });

  it("an appeal won after a lost chargeback reinstates the amount once; the fee stays", async () => {
    const charge = await paidCharge(5000);
    const id = (await control(`/charges/${charge}/dispute`, {})).body.id;
    await control(`/disputes/${id}/close`, { outcome: "lost" });
    const reopened = await control(`/disputes/${id}/update`, { status: "appeal_needs_response" });
    expect(reopened.body.status).toBe("appeal_needs_response");
    // Money is still out during the appeal: the charge cannot be refunded.
    expect((await stripeFailure(stripe.refunds.create({ charge }))).code).toBe("charge_disputed");
    await control(`/disputes/${id}/update`, { status: "appeal_under_review" });
    const won = await control(`/disputes/${id}/close`, { outcome: "won" });
    expect(won.body.status).toBe("won");
    const dispute = await stripe.disputes.retrieve(id);
    expect(dispute.balance_transactions.map((t) => [t.amount, t.fee, t.reporting_category])).toEqual([
      [-5000, 1500, "dispute"],
      [5000, 0, "dispute_reversal"],
    ]);
    expect(dispute.evidence_details.submission_count).toBe(1);
    expect(eventsOf(id).map(snapshot)).toEqual([
      ["charge.dispute.created", "needs_response", 1],
      ["charge.dispute.funds_withdrawn", "needs_response", 1],
      ["charge.dispute.closed", "lost", 1],
      ["charge.dispute.updated", "appeal_needs_response", 1],
      ["charge.dispute.updated", "appeal_under_review", 1],
      ["charge.dispute.closed", "won", 2],
      ["charge.dispute.funds_reinstated", "won", 2],
    ]);
    expect(eventsOf(id)[3]?.data.previous_attributes).toEqual({ status: "lost" });
    expect((await control(`/disputes/${id}/update`, { status: "appeal_needs_response" })).status).toBe(400);
  });

  it("an appeal lost moves nothing more and cannot be appealed again from won", async () => {
    const charge = await paidCharge(2000);
    const id = (await control(`/charges/${charge}/dispute`, {})).body.id;
    await control(`/disputes/${id}/close`, { outcome: "lost" });
    await control(`/disputes/${id}/update`, { status: "appeal_needs_response" });
    const lost = await control(`/disputes/${id}/close`, { outcome: "lost" });
    expect(lost.body).toMatchObject({ status: "lost" });
    expect((await stripe.disputes.retrieve(id)).balance_transactions.map((t) => t.net)).toEqual([-3500]);
    expect(eventsOf(id).map((e) => e.type)).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
      "charge.dispute.updated",
      "charge.dispute.closed",
    ]);
    // An inquiry is never appealed; a won chargeback is never reopened.
    const inquiry = (await control(`/charges/${await paidCharge(1000)}/dispute`, { inquiry: true })).body.id;
    await control(`/disputes/${inquiry}/close`, { outcome: "lost" });
    expect((await control(`/disputes/${inquiry}/update`, { status: "appeal_needs_response" })).status).toBe(
      400,
    );
    const won = (await control(`/charges/${await paidCharge(1000)}/dispute`, {})).body.id;
    await control(`/disputes/${won}/close`, { outcome: "won" });
    expect((await control(`/disputes/${won}/update`, { status: "appeal_needs_response" })).status).toBe(400);
  });

  it("reaches every status the SDK declares", async () => {
    const reached = new Set<string>();
    const note = (d: { status: string }) => reached.add(d.status);
    const open = async (body: object) => {
      const d = (await control(`/charges/${await paidCharge(1000)}/dispute`, body)).body;
      note(d);
      return d.id;
    };
    const move = async (id: string, status: string) =>
      note((await control(`/disputes/${id}/update`, { status })).body);
    const close = async (id: string, outcome: string) =>
      note((await control(`/disputes/${id}/close`, { outcome })).body);

    const chargeback = await open({});
    await move(chargeback, "under_review");
    await close(chargeback, "lost");
    await move(chargeback, "appeal_needs_response");
    await move(chargeback, "appeal_under_review");
    await close(chargeback, "won");
    const inquiry = await open({ inquiry: true });
    await move(inquiry, "warning_under_review");
    await close(inquiry, "won");
    await open({ prevented: true });
    expect([...reached].sort()).toEqual(sdkDisputeStatuses());
    expect(sdkDisputeStatuses()).toContain("prevented");
  });

  const statusLifecycles = LIFECYCLES.filter((lc) => /prevented|appeal/.test(lc.name));
  it("the harness plays the prevented and appeal lifecycles", () => expect(statusLifecycles).toHaveLength(3));
  it.each(statusLifecycles.map((lc) => [lc.name, lc] as const))(
    "the harness lifecycle %s emits exactly its event types, in Stripe's order",
    async (_name, lc) => {
      const start = standin.eventCount();
      const pi = await stripe.paymentIntents.create({
        amount: 1000,
        currency: "usd",
        payment_method: "pm_card_visa",
        confirm: true,
      });
      await lc.play(lifecycleControl(standin), { piId: pi.id, chargeId: pi.latest_charge as string });
      const mine = standin
        .events(start)
        .filter((e) => e.data.object.id === pi.id || e.data.object.charge === pi.latest_charge)
        .map((e) => e.type)
        .filter((t) => lc.types.includes(t));
      expect([...new Set(mine)]).toEqual(lc.types);
    },
  );
});
