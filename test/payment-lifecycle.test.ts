import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachPaymentIntent, insertCreating } from "../src/db/stores/top-ups.js";
import { ensureUser } from "../src/db/stores/users.js";
import { newId } from "../src/ids.js";
import { api, pay, topUp, wallet } from "./support/api.js";
import { stripeFor } from "./support/stripe-client.js";
import { chargeObject, deliver, eventEnvelope, stripeId } from "./support/events.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { WEBHOOK_SECRET } from "./support/tokens.js";

/** The payments processor's behaviours beyond a plain capture, with Stripe (the stand-in) delivering. */
let sys: System;
let stripe: Stripe;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
  stripe = stripeFor(sys.standin);
});
afterAll(async () => sys?.stop());

const settled = () => eventually(async () => (await openEventCount(sys)) === 0, { what: "events settled" });
const eventStatus = async (id: string) =>
  (await sys.tdb.db("stripe_webhook_events").where({ id }).first())?.status as string | undefined;
const webhooksOn = () => sys.standin.setWebhook(`${sys.url}/webhooks/stripe`, WEBHOOK_SECRET);

/** A top-up whose PaymentIntent authorizes first (manual capture), as a platform may configure. */
async function manualTopUp(user: string, amountMinor: number) {
  await ensureUser(sys.tdb.db, user);
  const row = await insertCreating(sys.tdb.db, {
    id: newId("top"),
    userId: user,
    idempotencyKey: newId("k"),
    amountMinor,
    currency: "usd",
    livemode: false,
  });
  const pi = await stripe.paymentIntents.create({
    amount: amountMinor,
    currency: "usd",
    capture_method: "manual",
    metadata: { user_id: user, purpose: "wallet_top_up", top_up_id: row.id },
  });
  await attachPaymentIntent(sys.tdb.db, row.id, {
    id: pi.id,
    status: pi.status,
    clientSecret: pi.client_secret,
  });
  return pi.id;
}

describe("payments processor", () => {
  it("shows an authorization as pending, then credits only what a partial capture took", async () => {
    webhooksOn();
    const piId = await manualTopUp("auth-user", 5_000);
    await pay(sys.standin.url, piId);
    await eventually(async () => (await wallet(sys.url, "auth-user")).pending === 5_000, { what: "pending" });
    expect(await wallet(sys.url, "auth-user")).toEqual({ available: 0, pending: 5_000, held: 0 });

    await stripe.paymentIntents.capture(piId, { amount_to_capture: 3_000 });
    await eventually(async () => (await wallet(sys.url, "auth-user")).available === 3_000, {
      what: "capture",
    });
    await settled();
    expect(await wallet(sys.url, "auth-user")).toEqual({ available: 3_000, pending: 0, held: 0 });
    await expectInvariants(sys);
  });

  it("never takes a real refund for a partial capture's release, whatever a later snapshot shows", async () => {
    sys.standin.setWebhook(undefined);
    const piId = await manualTopUp("release-user", 5_000);
    await pay(sys.standin.url, piId);
    await stripe.paymentIntents.capture(piId, { amount_to_capture: 3_000 });
    const refund = await stripe.refunds.create({ payment_intent: piId, amount: 300 });
    const ours = sys.standin.events().filter((e) => {
      const o = e.data.object as { id: string; payment_intent?: string };
      return o.id === piId || o.payment_intent === piId;
    });
    for (const e of ours) expect((await deliver(sys.url, e as never)).status).toBe(200);
    await settled();
    expect((await wallet(sys.url, "release-user")).available).toBe(2_700);
    // A snapshot of the same refund that lacks its balance transaction (an older API version, a
    // refund Stripe has not booked yet) fits in the released rest; it is still the real refund.
    const created = ours.find((e) => e.type === "refund.created" && e.data.object.id === refund.id)!;
    const odd = {
      ...created,
      id: `evt_odd_${refund.id}`,
      data: { object: { ...created.data.object, balance_transaction: null, status: "succeeded" } },
    };
    expect((await deliver(sys.url, odd as never)).status).toBe(200);
    await settled();
    expect((await wallet(sys.url, "release-user")).available).toBe(2_700);
    expect(
      await sys.tdb.db("wallet_ledger_transactions").where({ source_id: refund.id }).pluck("kind"),
    ).toEqual(["refund"]);
    await expectInvariants(sys);
  });

  it("clears a pending authorization on cancel and moves no money", async () => {
    webhooksOn();
    const piId = await manualTopUp("cancel-user", 2_000);
    await pay(sys.standin.url, piId);
    await eventually(async () => (await wallet(sys.url, "cancel-user")).pending === 2_000, {
      what: "pending",
    });
    await stripe.paymentIntents.cancel(piId);
    await eventually(async () => (await wallet(sys.url, "cancel-user")).pending === 0, {
      what: "pending cleared",
    });
    await settled();
    expect(await wallet(sys.url, "cancel-user")).toEqual({ available: 0, pending: 0, held: 0 });
    expect(await sys.tdb.db("wallet_ledger_transactions").where({ source_id: piId })).toEqual([]);
  });

  it("records a declined payment without moving money", async () => {
    webhooksOn();
    const created = await topUp(sys.url, "declined-user", 1_000);
    const paid = await pay(sys.standin.url, created.body.payment_intent_id, "pm_card_chargeDeclined");
    expect(paid.status).toBe(402);
    await eventually(
      async () =>
        (await api(sys.url, "GET", `/v1/wallet/top-ups/${created.body.id}`, { user: "declined-user" })).body
          .status === "requires_payment_method",
    );
    await settled();
    expect(await wallet(sys.url, "declined-user")).toEqual({ available: 0, pending: 0, held: 0 });
  });

  it("acts on what Stripe says now: a late amount_capturable_updated cannot undo a capture", async () => {
    sys.standin.setWebhook(undefined);
    const piId = await manualTopUp("late-user", 4_000);
    await pay(sys.standin.url, piId);
    await stripe.paymentIntents.capture(piId);
    const events = sys.standin.events().filter((e) => (e.data.object as { id?: string }).id === piId);
    const late = events.find((e) => e.type === "payment_intent.amount_capturable_updated")!;
    const succeeded = events.find((e) => e.type === "payment_intent.succeeded")!;
    await deliver(sys.url, succeeded as never);
    await settled();
    await deliver(sys.url, late as never);
    await settled();
    expect(await wallet(sys.url, "late-user")).toEqual({ available: 4_000, pending: 0, held: 0 });
    await expectInvariants(sys);
  });

  it("records a PaymentIntent Coffer did not create, and credits nothing", async () => {
    sys.standin.setWebhook(undefined);
    const pi = await stripe.paymentIntents.create({
      amount: 1_500,
      currency: "usd",
      metadata: { order: "shop-1" },
    });
    await pay(sys.standin.url, pi.id);
    // Both sibling events, each twice: the first records the foreign payment, the rest find that record.
    const events = sys.standin.events().filter((e) => {
      const o = e.data.object as { id: string; payment_intent?: string };
      return (
        (e.type === "payment_intent.succeeded" && o.id === pi.id) ||
        (e.type === "charge.succeeded" && o.payment_intent === pi.id)
      );
    });
    expect(events).toHaveLength(2);
    for (const ev of [...events, ...events]) await deliver(sys.url, ev as never);
    await settled();
    for (const ev of events) expect(await eventStatus(ev.id)).toBe("processed");
    const row = await sys.tdb.db("payment_transactions").where({ payment_intent_id: pi.id }).first();
    expect(row).toMatchObject({ purpose: "unrecognized", user_id: null });
    expect(await sys.tdb.db("wallet_ledger_transactions").where({ source_id: pi.id })).toEqual([]);
  });

  it("credits a top-up once: a second PaymentIntent naming it credits nothing and raises an alert", async () => {
    sys.standin.setWebhook(undefined);
    const created = await topUp(sys.url, "twice-user", 1_000);
    const topUpId = created.body.id as string;
    const firstPi = created.body.payment_intent_id as string;
    await pay(sys.standin.url, firstPi);
    // Someone makes a second payment carrying the same top-up's metadata.
    const second = await stripe.paymentIntents.create({
      amount: 1_000,
      currency: "usd",
      metadata: { user_id: "twice-user", purpose: "wallet_top_up", top_up_id: topUpId },
    });
    await pay(sys.standin.url, second.id);
    const piOf = (e: { data: { object: { id?: unknown; payment_intent?: unknown } } }) =>
      (e.data.object.payment_intent ?? e.data.object.id) as string;
    const events = sys.standin
      .events()
      .filter(
        (e) =>
          ["payment_intent.succeeded", "charge.succeeded"].includes(e.type) &&
          [firstPi, second.id].includes(piOf(e)),
      );
    expect(events).toHaveLength(4);
    // The second payment's events first, each twice, then the first payment's.
    const ordered = [
      ...events.filter((e) => piOf(e) === second.id),
      ...events.filter((e) => piOf(e) === firstPi),
    ];
    for (const ev of [...ordered, ...ordered]) expect((await deliver(sys.url, ev as never)).status).toBe(200);
    await settled();
    expect(await wallet(sys.url, "twice-user")).toEqual({ available: 1_000, pending: 0, held: 0 });
    const row = await sys.tdb.db("payment_transactions").where({ id: topUpId }).first();
    expect(row).toMatchObject({
      payment_intent_id: firstPi,
      status: "succeeded",
      amount_received_minor: 1_000,
    });
    expect(
      await sys.tdb.db("payment_transactions").where({ payment_intent_id: second.id }).first(),
    ).toMatchObject({
      purpose: "unrecognized",
      user_id: null,
    });
    expect(await sys.tdb.db("wallet_ledger_transactions").where({ source_id: second.id })).toEqual([]);
    const alert = await eventually(
      async () =>
        sys.workers[0]!.lines.find(
          (l) => l.alert === true && l.payment_intent_id === second.id && l.top_up_id === topUpId,
        ),
      { what: "the foreign-payment alert" },
    );
    expect(alert).toMatchObject({ level: 50, bound_to: firstPi });
    for (const ev of events) expect(await eventStatus(ev.id)).toBe("processed");
  });

  it("fails terminally when the metadata names another user, and credits no one", async () => {
    sys.standin.setWebhook(undefined);
    await ensureUser(sys.tdb.db, "owner");
    const row = await insertCreating(sys.tdb.db, {
      id: newId("top"),
      userId: "owner",
      idempotencyKey: "mm",
      amountMinor: 1_000,
      currency: "usd",
      livemode: false,
    });
    const pi = await stripe.paymentIntents.create({
      amount: 1_000,
      currency: "usd",
      metadata: { user_id: "mallory", purpose: "wallet_top_up", top_up_id: row.id },
    });
    await attachPaymentIntent(sys.tdb.db, row.id, { id: pi.id, status: pi.status, clientSecret: null });
    await pay(sys.standin.url, pi.id);
    const ev = sys.standin
      .events()
      .find((e) => e.type === "payment_intent.succeeded" && (e.data.object as { id: string }).id === pi.id)!;
    await deliver(sys.url, ev as never);
    await settled();
    const stored = await sys.tdb.db("stripe_webhook_events").where({ id: ev.id }).first();
    expect(stored).toMatchObject({ status: "failed", attempts: 1 });
    expect(stored.last_error).toMatch(/metadata does not match/);
    expect(await wallet(sys.url, "owner")).toEqual({ available: 0, pending: 0, held: 0 });
  });

  it("fails terminally when Stripe says the PaymentIntent a charge names does not exist, and the next good event still works", async () => {
    // A charge without its PaymentIntent's metadata cannot be credited from the snapshot alone,
    // so Coffer asks Stripe, and Stripe says resource_missing.
    const ghost = eventEnvelope(
      "charge.succeeded",
      chargeObject({ id: stripeId("py"), payment_intent: stripeId("pi"), metadata: {}, captured: true }),
    );
    expect((await deliver(sys.url, ghost)).status).toBe(200);
    await settled();
    const stored = await sys.tdb
      .db("stripe_webhook_events")
      .where({ id: ghost.id as string })
      .first();
    expect(stored).toMatchObject({ status: "failed", attempts: 1 });
    expect(stored.last_error).toMatch(/No such payment_intent/);

    webhooksOn();
    const created = await topUp(sys.url, "after-ghost", 700);
    await pay(sys.standin.url, created.body.payment_intent_id);
    await eventually(async () => (await wallet(sys.url, "after-ghost")).available === 700, {
      what: "credit",
    });
  });

  it("credits from the signed snapshot without asking Stripe", async () => {
    sys.standin.setWebhook(undefined);
    const created = await topUp(sys.url, "snapshot-user", 800);
    await pay(sys.standin.url, created.body.payment_intent_id);
    const ev = sys.standin
      .events()
      .find(
        (e) =>
          e.type === "payment_intent.succeeded" &&
          (e.data.object as { id: string }).id === created.body.payment_intent_id,
      )!;
    // Every read of the PaymentIntent would fail: the snapshot is all the credit needs.
    sys.standin.injectFault({ method: "GET", pathPrefix: "/v1/payment_intents/", kind: "500", times: 100 });
    try {
      await deliver(sys.url, ev as never);
      await settled();
      expect(await sys.tdb.db("stripe_webhook_events").where({ id: ev.id }).first()).toMatchObject({
        status: "processed",
        attempts: 1,
      });
      expect(await wallet(sys.url, "snapshot-user")).toEqual({ available: 800, pending: 0, held: 0 });
    } finally {
      sys.standin.clearFaults();
    }
  });

  it("retries transient Stripe errors with backoff, then applies once", async () => {
    sys.standin.setWebhook(undefined);
    const created = await topUp(sys.url, "flaky-user", 900);
    await pay(sys.standin.url, created.body.payment_intent_id);
    const charge = sys.standin
      .events()
      .find(
        (e) =>
          e.type === "charge.succeeded" &&
          (e.data.object as { payment_intent: string }).payment_intent === created.body.payment_intent_id,
      )!;
    // Without its PaymentIntent's metadata the charge cannot be credited as it is: Coffer asks Stripe.
    const ev = { ...charge, data: { object: { ...charge.data.object, metadata: {} } } };
    sys.standin.injectFault({ method: "GET", pathPrefix: "/v1/payment_intents/", kind: "500", times: 2 });
    await deliver(sys.url, ev as never);
    await settled();
    const stored = await sys.tdb.db("stripe_webhook_events").where({ id: ev.id }).first();
    expect(stored).toMatchObject({ status: "processed", attempts: 3 });
    expect(await wallet(sys.url, "flaky-user")).toEqual({ available: 900, pending: 0, held: 0 });
    await expectInvariants(sys);
  });
});
