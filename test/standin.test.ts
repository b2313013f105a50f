import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseForm } from "../src/standin/form.js";
import { startStandin } from "../src/standin/index.js";
import { stripeFailure, stripeFor } from "./support/stripe-client.js";
import type { Standin } from "../src/standin/index.js";

let standin: Standin;
let stripe: Stripe;

beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

/** Types of the events about one PaymentIntent (itself or its charges), oldest first. */
function eventTypesFor(s: Standin, piId: string): string[] {
  return s
    .events()
    .filter((e) => e.data.object.id === piId || e.data.object.payment_intent === piId)
    .map((e) => e.type);
}

/** How many PaymentIntents were created carrying this metadata tag. */
function createdWithTag(s: Standin, tag: string): number {
  return s.events().filter((e) => {
    const metadata = e.data.object.metadata as Record<string, string> | undefined;
    return e.type === "payment_intent.created" && metadata?.tag === tag;
  }).length;
}

describe("wire format", () => {
  it("parses Stripe's bracket-nested form encoding", () => {
    const parsed = parseForm(
      "amount=100&metadata[user_id]=u1&metadata[note]=a+b%26c&expand[]=x&expand[]=y" +
        "&payment_method_types[0]=card&items[0][price]=p1&items[1][price]=p2&created[gte]=5&__proto__[x]=1",
    );
    expect(parsed).toEqual({
      amount: "100",
      metadata: { user_id: "u1", note: "a b&c" },
      expand: ["x", "y"],
      payment_method_types: ["card"],
      items: [{ price: "p1" }, { price: "p2" }],
      created: { gte: "5" },
    });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("refuses a request without an API key with 401 and answers unknown URLs with 404", async () => {
    const noKey = await fetch(`${standin.url}/v1/balance`);
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");

    const unknown = await stripeFailure(stripe.rawRequest("GET", "/v1/nonexistent_things"));
    expect(unknown).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(unknown.statusCode).toBe(404);
  });
});

describe("payment intents", () => {
  it("creates, confirms and retrieves with expand; the fee math is exact", async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 1099,
      currency: "USD",
      metadata: { user_id: "u1" },
    });
    expect(pi.id).toMatch(/^pi_[0-9A-Za-z]{24}$/);
    expect(pi.client_secret?.startsWith(`${pi.id}_secret_`)).toBe(true);
    expect(pi).toMatchObject({
      status: "requires_payment_method",
      currency: "usd",
      metadata: { user_id: "u1" },
    });

    const confirmed = await stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    expect(confirmed).toMatchObject({ status: "succeeded", amount_received: 1099 });
    expect(confirmed.latest_charge).toMatch(/^ch_/);

    const expanded = await stripe.paymentIntents.retrieve(pi.id, {
      expand: ["latest_charge.balance_transaction"],
    });
    const charge = expanded.latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({
      id: confirmed.latest_charge,
      captured: true,
      amount_captured: 1099,
      amount_refunded: 0,
      refunded: false,
      payment_intent: pi.id,
    });
    expect(charge).not.toHaveProperty("refunds"); // absent unless expanded, since API 2022-11-15
    const txn = charge.balance_transaction as Stripe.BalanceTransaction;
    // round(1099 × 290 / 10000) + 30 = round(31.871) + 30 = 62
    expect(txn).toMatchObject({ type: "charge", source: charge.id, amount: 1099, fee: 62, net: 1037 });
    expect(txn).toMatchObject({ currency: "usd", status: "pending" });
    expect(txn.fee_details).toEqual([
      {
        amount: 62,
        application: null,
        currency: "usd",
        description: "Stripe processing fees",
        type: "stripe_fee",
      },
    ]);

    const plain = await stripe.paymentIntents.retrieve(pi.id);
    expect(plain.latest_charge).toBe(charge.id);
    const viaCharge = await stripe.charges.retrieve(charge.id, { expand: ["balance_transaction"] });
    expect((viaCharge.balance_transaction as Stripe.BalanceTransaction).id).toBe(txn.id);
    const charges = await stripe.charges.list({ payment_intent: pi.id });
    expect(charges.data.map((c) => c.id)).toEqual([charge.id]);
    expect(eventTypesFor(standin, pi.id)).toEqual([
      "payment_intent.created",
      "charge.succeeded",
      "payment_intent.succeeded",
    ]);
  });

  it("captures part of a manual authorization, books only that, and refunds the rest at once", async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 5000,
      currency: "usd",
      capture_method: "manual",
      payment_method: "pm_card_visa",
      confirm: true,
      expand: ["latest_charge"],
    });
    expect(pi).toMatchObject({ status: "requires_capture", amount_capturable: 5000, amount_received: 0 });
    // A held payment is card-only: bank debits cannot be captured later.
    expect(pi.payment_method_types).toEqual(["card"]);
    expect(pi.latest_charge).toMatchObject({
      captured: false,
      balance_transaction: null,
      amount_captured: 0,
    });

    const tooMuch = await stripeFailure(stripe.paymentIntents.capture(pi.id, { amount_to_capture: 5001 }));
    expect(tooMuch.code).toBe("amount_too_large");

    const captured = await stripe.paymentIntents.capture(pi.id, {
      amount_to_capture: 3000,
      expand: ["latest_charge.balance_transaction", "latest_charge.refunds"],
    });
    expect(captured).toMatchObject({ status: "succeeded", amount_received: 3000, amount_capturable: 0 });
    const charge = captured.latest_charge as Stripe.Charge;
    // Stripe refunds what was not captured: the charge is partly refunded from the start.
    expect(charge).toMatchObject({
      captured: true,
      amount: 5000,
      amount_captured: 3000,
      amount_refunded: 2000,
      refunded: false,
    });
    // round(3000 × 290 / 10000) + 30 = 87 + 30
    expect(charge.balance_transaction).toMatchObject({
      amount: 3000,
      fee: 117,
      net: 2883,
      source: charge.id,
    });
    const [release] = charge.refunds?.data ?? [];
    expect(charge.refunds?.data).toHaveLength(1);
    // It moves no money: nothing was captured, so there is no balance transaction to reverse.
    expect(release).toMatchObject({ amount: 2000, status: "succeeded", balance_transaction: null });
    expect((await stripe.balanceTransactions.list({ source: release?.id })).data).toEqual([]);

    const again = await stripeFailure(stripe.paymentIntents.capture(pi.id));
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again.code).toBe("payment_intent_unexpected_state");
    expect(eventTypesFor(standin, pi.id)).toEqual([
      "payment_intent.created",
      "charge.succeeded",
      "payment_intent.amount_capturable_updated",
      "charge.captured",
      "refund.created",
      "charge.refunded",
      "payment_intent.succeeded",
    ]);
    const capturedEvent = standin
      .events()
      .find((e) => e.type === "charge.captured" && e.data.object.id === charge.id);
    expect(capturedEvent?.data.object).toMatchObject({ amount_captured: 3000, amount_refunded: 2000 });

    // Only what was captured can be refunded; refunding all of it makes the charge fully refunded.
    const over = await stripeFailure(stripe.refunds.create({ payment_intent: pi.id, amount: 3001 }));
    expect(over.message).toBe("Refund amount ($30.01) is greater than unrefunded amount on charge ($30.00)");
    await stripe.refunds.create({ payment_intent: pi.id });
    expect(await stripe.charges.retrieve(charge.id)).toMatchObject({ amount_refunded: 5000, refunded: true });
  });

  it("cancels an open PaymentIntent but not a succeeded one", async () => {
    const pi = await stripe.paymentIntents.create({ amount: 700, currency: "usd" });
    const canceled = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: "abandoned" });
    expect(canceled).toMatchObject({ status: "canceled", cancellation_reason: "abandoned" });
    expect(canceled.canceled_at).toBeTypeOf("number");
    expect(eventTypesFor(standin, pi.id)).toEqual(["payment_intent.created", "payment_intent.canceled"]);
    const confirmAfter = await stripeFailure(
      stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" }),
    );
    expect(confirmAfter.code).toBe("payment_intent_unexpected_state");

    const paid = await stripe.paymentIntents.create({
      amount: 700,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const refused = await stripeFailure(stripe.paymentIntents.cancel(paid.id));
    expect(refused.statusCode).toBe(400);
    expect(refused.code).toBe("payment_intent_unexpected_state");
    expect((await stripe.paymentIntents.retrieve(paid.id)).status).toBe("succeeded");
  });

  it("declines pm_card_chargeDeclined with a 402 card error and lets the customer retry", async () => {
    const pi = await stripe.paymentIntents.create({ amount: 2500, currency: "usd" });
    const declined = await stripeFailure(
      stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_chargeDeclined" }),
    );
    expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(declined).toMatchObject({
      statusCode: 402,
      code: "card_declined",
      decline_code: "generic_decline",
    });

    const after = await stripe.paymentIntents.retrieve(pi.id, { expand: ["latest_charge"] });
    expect(after.status).toBe("requires_payment_method");
    expect(after.last_payment_error).toMatchObject({ type: "card_error", code: "card_declined" });
    expect(after.latest_charge).toMatchObject({ status: "failed", paid: false, balance_transaction: null });
    expect(eventTypesFor(standin, pi.id)).toEqual([
      "payment_intent.created",
      "charge.failed",
      "payment_intent.payment_failed",
    ]);

    const retried = await stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    expect(retried).toMatchObject({ status: "succeeded", last_payment_error: null, amount_received: 2500 });
  });

  it("validates amounts and currencies like Stripe", async () => {
    const small = await stripeFailure(stripe.paymentIntents.create({ amount: 49, currency: "usd" }));
    expect(small).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(small).toMatchObject({ statusCode: 400, code: "amount_too_small", param: "amount" });
    await expect(stripe.paymentIntents.create({ amount: 50, currency: "usd" })).resolves.toMatchObject({
      amount: 50,
    });
    expect((await stripeFailure(stripe.paymentIntents.create({ amount: 499, currency: "kwd" }))).code).toBe(
      "amount_too_small",
    );
    const large = await stripeFailure(stripe.paymentIntents.create({ amount: 100_000_000, currency: "usd" }));
    expect(large.code).toBe("amount_too_large");
    expect((await stripeFailure(stripe.paymentIntents.create({ amount: 1.5, currency: "usd" }))).code).toBe(
      "parameter_invalid_integer",
    );
    expect((await stripeFailure(stripe.paymentIntents.create({ amount: 0, currency: "usd" }))).param).toBe(
      "amount",
    );
    expect((await stripeFailure(stripe.paymentIntents.create({ amount: 500, currency: "xyz" }))).code).toBe(
      "invalid_currency",
    );
    const unknownParam = await stripeFailure(
      stripe.rawRequest("POST", "/v1/payment_intents", { amount: 500, currency: "usd", metdata: "x" }),
    );
    expect(unknownParam).toMatchObject({ code: "parameter_unknown", param: "metdata" });
  });

  it("answers unknown ids with 404 resource_missing", async () => {
    const missing = await stripeFailure(stripe.paymentIntents.retrieve("pi_doesnotexist"));
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missing).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "id",
      message: "No such payment_intent: 'pi_doesnotexist'",
    });
    expect((await stripeFailure(stripe.charges.retrieve("ch_nope"))).code).toBe("resource_missing");
    expect((await stripeFailure(stripe.balanceTransactions.retrieve("txn_nope"))).statusCode).toBe(404);
  });

  it("lists newest first with limit, has_more, starting_after and data.* expand", async () => {
    const customer = `cus_${randomUUID()}`;
    const ids: string[] = [];
    for (const amount of [100, 200, 300]) {
      ids.push((await stripe.paymentIntents.create({ amount, currency: "usd", customer })).id);
    }
    const page1 = await stripe.paymentIntents.list({ customer, limit: 2 });
    expect(page1.data.map((p) => p.id)).toEqual([ids[2], ids[1]]);
    expect(page1.has_more).toBe(true);
    expect(page1.url).toBe("/v1/payment_intents");
    const page2 = await stripe.paymentIntents.list({ customer, limit: 2, starting_after: ids[1] });
    expect(page2.data.map((p) => p.id)).toEqual([ids[0]]);
    expect(page2.has_more).toBe(false);

    await stripe.paymentIntents.confirm(ids[2] ?? "", { payment_method: "pm_card_visa" });
    const expanded = await stripe.paymentIntents.list({ customer, limit: 1, expand: ["data.latest_charge"] });
    expect(expanded.data[0]?.latest_charge).toMatchObject({ object: "charge", payment_intent: ids[2] });
    expect((await stripeFailure(stripe.paymentIntents.list({ limit: 101 }))).param).toBe("limit");
  });
});

describe("idempotency", () => {
  it("replays the saved response for the same key and params, acting once", async () => {
    const tag = randomUUID();
    const key = `top-up-${tag}`;
    const params = { amount: 1200, currency: "usd", metadata: { tag } };
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect(first.lastResponse.headers["idempotent-replayed"]).toBeUndefined();
    expect(createdWithTag(standin, tag)).toBe(1);
    const logged = standin.requests().filter((r) => r.idempotencyKey === key);
    expect(logged.map((r) => [r.status, r.replayed ?? false])).toEqual([
      [200, false],
      [200, true],
    ]);
  });

  it("refuses the same key with different params or on a different endpoint", async () => {
    const key = `k-${randomUUID()}`;
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: "usd" }, { idempotencyKey: key });
    const otherParams = await stripeFailure(
      stripe.paymentIntents.create({ amount: 1001, currency: "usd" }, { idempotencyKey: key }),
    );
    expect(otherParams).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(otherParams).toMatchObject({ type: "StripeIdempotencyError", rawType: "idempotency_error" });
    expect(otherParams.message).toMatch(/same parameters/);
    const otherPath = await stripeFailure(stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: key }));
    expect(otherPath.rawType).toBe("idempotency_error");
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe("requires_payment_method");
  });

  it("scopes keys per account, does not save validation errors, and can expire keys", async () => {
    const tag = randomUUID();
    const key = `k-${tag}`;
    const params = { amount: 900, currency: "usd", metadata: { tag } };
    const invalid = await stripeFailure(
      stripe.paymentIntents.create({ ...params, amount: 10 }, { idempotencyKey: key }),
    );
    expect(invalid.code).toBe("amount_too_small");
    // The failed validation saved nothing, so the corrected request with the same key runs.
    const platform = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    const connected = await stripe.paymentIntents.create(params, {
      idempotencyKey: key,
      stripeAccount: "acct_scope",
    });
    expect(connected.id).not.toBe(platform.id);

    standin.expireIdempotencyKeys();
    const afterExpiry = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(afterExpiry.id).not.toBe(platform.id);
    expect(createdWithTag(standin, tag)).toBe(3);
  });
});

describe("fault injection", () => {
  it("fails with 500 without saving it, so a retry with the same key creates once", async () => {
    const tag = randomUUID();
    const args = [
      { amount: 800, currency: "usd", metadata: { tag } },
      { idempotencyKey: `k-${tag}` },
    ] as const;
    standin.injectFault({ method: "POST", pathPrefix: "/v1/payment_intents", kind: "500" });
    const err = await stripeFailure(stripe.paymentIntents.create(...args));
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(err.statusCode).toBe(500);
    expect(createdWithTag(standin, tag)).toBe(0);

    const created = await stripe.paymentIntents.create(...args);
    expect(created.lastResponse.headers["idempotent-replayed"]).toBeUndefined();
    expect(createdWithTag(standin, tag)).toBe(1);
  });

  it("rate-limits with 429 as many times as asked, only for the matching method", async () => {
    standin.injectFault({ method: "GET", pathPrefix: "/v1/balance", kind: "429", times: 2 });
    await expect(stripe.paymentIntents.create({ amount: 800, currency: "usd" })).resolves.toBeDefined();
    for (let i = 0; i < 2; i++) {
      const err = await stripeFailure(stripe.balance.retrieve());
      expect(err).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(err.statusCode).toBe(429);
    }
    await expect(stripe.balance.retrieve()).resolves.toMatchObject({ object: "balance" });
  });

  it("answers balance_insufficient as a 400 invalid request", async () => {
    standin.injectFault({ pathPrefix: "/v1/payment_intents", kind: "balance_insufficient" });
    const err = await stripeFailure(stripe.paymentIntents.create({ amount: 800, currency: "usd" }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, code: "balance_insufficient" });
  });

  it("drop_after acts, then kills the connection; a retry with the key returns the object", async () => {
    const tag = randomUUID();
    const key = `k-${tag}`;
    const params = { amount: 1500, currency: "usd", metadata: { tag } };
    // times: 2 because stripe-node retries a reset connection once by itself, even with
    // maxNetworkRetries: 0 (see the next test).
    standin.injectFault({ pathPrefix: "/v1/payment_intents", kind: "drop_after", times: 2 });
    const err = await stripeFailure(stripe.paymentIntents.create(params, { idempotencyKey: key }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(createdWithTag(standin, tag)).toBe(1);

    const retried = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(retried.metadata.tag).toBe(tag);
    expect(retried.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect(createdWithTag(standin, tag)).toBe(1);
    const logged = standin.requests().filter((r) => r.idempotencyKey === key);
    expect(logged.map((r) => [r.dropped ?? false, r.replayed ?? false])).toEqual([
      [true, false],
      [true, true],
      [false, true],
    ]);
  });

  it("a single drop is healed by stripe-node's own retry with the same key", async () => {
    const tag = randomUUID();
    standin.injectFault({ pathPrefix: "/v1/payment_intents", kind: "drop_after" });
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: "usd", metadata: { tag } });
    expect(pi.metadata.tag).toBe(tag);
    expect(createdWithTag(standin, tag)).toBe(1);
  });

  it("is controllable over HTTP", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${standin.url}${path}`, { method: "POST", body: JSON.stringify(body) });
    expect((await post("/_standin/faults", { pathPrefix: "/v1/events", kind: "nope" })).status).toBe(400);
    expect((await post("/_standin/faults", { pathPrefix: "/v1/events", kind: "500", times: 5 })).status).toBe(
      200,
    );
    expect((await stripeFailure(stripe.events.list())).statusCode).toBe(500);
    expect((await fetch(`${standin.url}/_standin/faults`, { method: "DELETE" })).status).toBe(200);
    await expect(stripe.events.list()).resolves.toMatchObject({ object: "list" });

    const log = (await (await fetch(`${standin.url}/_standin/requests`)).json()) as Array<{ path: string }>;
    expect(log.at(-1)?.path).toBe("/v1/events");
    expect(log.some((r) => r.path.startsWith("/_standin"))).toBe(false);
  });
});

describe("events", () => {
  it("retrieves and lists events with type and created filters", async () => {
    const since = Math.floor(Date.now() / 1000);
    const pi = await stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const succeeded = await stripe.events.list({ type: "payment_intent.succeeded", created: { gte: since } });
    expect(succeeded.data.every((e) => e.type === "payment_intent.succeeded")).toBe(true);
    const latest = succeeded.data[0];
    expect(latest?.data.object).toMatchObject({ id: pi.id, status: "succeeded" });
    expect(latest).toMatchObject({ object: "event", livemode: false, api_version: expect.any(String) });
    expect(latest?.request?.idempotency_key).toMatch(/^stripe-node-retry-/);

    const wildcard = await stripe.events.list({ type: "charge.*", limit: 1 });
    expect(wildcard.data[0]?.type).toBe("charge.succeeded");
    const future = await stripe.events.list({ created: { gte: since + 3600 } });
    expect(future.data).toEqual([]);

    const one = await stripe.events.retrieve(latest?.id ?? "");
    expect(one.id).toBe(latest?.id);
    const page = await stripe.events.list({ limit: 1 });
    expect(page.has_more).toBe(true);
    const next = await stripe.events.list({ limit: 1, starting_after: page.data[0]?.id });
    expect(next.data[0]?.id).not.toBe(page.data[0]?.id);
  });

  it("tags events on a connected account and keeps its objects out of the platform", async () => {
    const account = `acct_${randomUUID().replaceAll("-", "")}`;
    const pi = await stripe.paymentIntents.create(
      { amount: 600, currency: "usd" },
      { stripeAccount: account },
    );
    const created = standin.events().find((e) => e.data.object.id === pi.id);
    expect(created?.account).toBe(account);
    expect((await stripeFailure(stripe.paymentIntents.retrieve(pi.id))).code).toBe("resource_missing");
    const own = await stripe.events.list({ limit: 5 }, { stripeAccount: account });
    expect(own.data.map((e) => e.account)).toEqual([account]);
  });
});

describe("balance", () => {
  it("derives pending and available from balance transactions, settled on request", async () => {
    const eur = (rows: Stripe.Balance.Available[]) => rows.find((r) => r.currency === "eur")?.amount ?? 0;
    const before = await stripe.balance.retrieve();
    const pi = await stripe.paymentIntents.create({
      amount: 10_000,
      currency: "eur",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const txns = await stripe.balanceTransactions.list({
      type: "charge",
      source: pi.latest_charge as string,
    });
    expect(txns.data).toHaveLength(1);
    expect(txns.data[0]).toMatchObject({ amount: 10_000, fee: 320, net: 9_680, currency: "eur" });
    const none = await stripe.balanceTransactions.list({
      created: { lt: txns.data[0]?.created ?? 0 },
      limit: 100,
    });
    expect(none.data.map((t) => t.id)).not.toContain(txns.data[0]?.id);

    const pending = await stripe.balance.retrieve();
    expect(eur(pending.pending) - eur(before.pending)).toBe(9_680);
    const settle = await fetch(`${standin.url}/_standin/balance/settle`, { method: "POST" });
    expect(((await settle.json()) as { settled: number }).settled).toBeGreaterThan(0);
    const settled = await stripe.balance.retrieve();
    expect(eur(settled.pending)).toBe(0);
    expect(eur(settled.available) - eur(before.available)).toBe(9_680 + eur(before.pending));
    expect((await stripe.balanceTransactions.retrieve(txns.data[0]?.id ?? "")).status).toBe("available");
  });
});

describe("webhook delivery", () => {
  const secret = "whsec_standin_test_secret";
  let hooks: Standin;
  let receiver: ReturnType<typeof createServer>;
  const received: Array<{ body: string; signature: string }> = [];
  let refuseFirst = true;

  beforeAll(async () => {
    // A separate instance, so only this test's events reach the receiver.
    hooks = await startStandin();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          body: Buffer.concat(chunks).toString("utf8"),
          signature: String(req.headers["stripe-signature"]),
        });
        // The very first delivery is refused, to prove that it is retried.
        res.writeHead(refuseFirst ? 500 : 200).end();
        refuseFirst = false;
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await hooks.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it("posts signed events that verify with stripe.webhooks.constructEvent, retrying failures", async () => {
    const { port } = receiver.address() as AddressInfo;
    const set = await fetch(`${hooks.url}/_standin/webhook`, {
      method: "POST",
      body: JSON.stringify({ url: `http://127.0.0.1:${port}/webhooks/stripe`, secret }),
    });
    expect(set.status).toBe(200);
    const client = stripeFor(hooks);
    const pi = await client.paymentIntents.create({ amount: 2000, currency: "usd" });
    // The customer pays in the browser: the control endpoint stands in for that.
    const paid = await fetch(`${hooks.url}/_standin/payment_intents/${pi.id}/pay`, { method: "POST" });
    expect(((await paid.json()) as { status: string }).status).toBe("succeeded");
    await hooks.flushWebhooks();

    const events = received.map((r) => stripe.webhooks.constructEvent(r.body, r.signature, secret));
    const ids = hooks.events().map((e) => e.id);
    expect(new Set(events.map((e) => e.id))).toEqual(new Set(ids));
    expect(events.filter((e) => e.id === ids[0])).toHaveLength(2); // refused once, then redelivered
    expect(hooks.events().map((e) => e.type)).toEqual([
      "payment_intent.created",
      "charge.succeeded",
      "payment_intent.succeeded",
    ]);
    const succeeded = events.find((e) => e.type === "payment_intent.succeeded");
    expect(succeeded?.data.object).toMatchObject({ id: pi.id, amount_received: 2000 });
    const first = received[0];
    expect(() =>
      stripe.webhooks.constructEvent(first?.body ?? "", first?.signature ?? "", "whsec_other"),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });
});
