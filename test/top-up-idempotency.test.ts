import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultSpec } from "../src/standin/index.js";
import { createStripeClient } from "../src/stripe/client.js";
import { api, topUp } from "./support/api.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * Idempotency-Key on POST /v1/wallet/top-ups: one key, one top-up, one
 * PaymentIntent, whatever the client or the network does in between.
 */
let sys: System;
let stripe: Stripe;
beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
  stripe = createStripeClient({ secretKey: "sk_test_idem", apiBase: sys.standin.url, timeoutMs: 5_000 });
});
afterAll(async () => {
  await sys?.stop();
});

/** PaymentIntents that exist at the stand-in for one user, whatever Coffer recorded. */
async function paymentIntentsOf(user: string): Promise<Stripe.PaymentIntent[]> {
  const all = await stripe.paymentIntents.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
  return all.filter((pi) => pi.metadata.user_id === user);
}

const piCreates = () =>
  sys.standin.requests().filter((r) => r.method === "POST" && r.path === "/v1/payment_intents").length;

const topUpRows = async (user: string) =>
  Number((await sys.tdb.db("payment_transactions").where({ user_id: user }).count({ n: "*" }).first())?.n);

describe("the same Idempotency-Key", () => {
  it("with the same body replays the first response and makes one PaymentIntent", async () => {
    const first = await topUp(sys.url, "idem-same", 1_500, "usd", "same-1");
    const creates = piCreates();
    const second = await topUp(sys.url, "idem-same", 1_500, "usd", "same-1");

    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(piCreates()).toBe(creates);
    expect((await paymentIntentsOf("idem-same")).map((pi) => pi.id)).toEqual([first.body.payment_intent_id]);
    expect(await topUpRows("idem-same")).toBe(1);
  });

  it.each([
    ["another amount", 1_600, "usd"],
    ["another currency", 1_500, "eur"],
  ])("with %s is refused 422 idempotency_key_reused", async (_name, amount, currency) => {
    const user = `idem-reused-${currency}-${amount}`;
    const first = await topUp(sys.url, user, 1_500, "usd", "reused-1");
    expect(first.status).toBe(201);
    const creates = piCreates();

    const second = await topUp(sys.url, user, amount, currency, "reused-1");

    expect(second.status).toBe(422);
    expect(second.body.error.code).toBe("idempotency_key_reused");
    expect(piCreates()).toBe(creates);
    expect(await topUpRows(user)).toBe(1);
  });

  it("used by another user is a different request", async () => {
    const a = await topUp(sys.url, "idem-scope-a", 2_000, "usd", "shared-key");
    const b = await topUp(sys.url, "idem-scope-b", 2_000, "usd", "shared-key");
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.body.payment_intent_id).not.toBe(a.body.payment_intent_id);
    expect(await paymentIntentsOf("idem-scope-a")).toHaveLength(1);
    expect(await paymentIntentsOf("idem-scope-b")).toHaveLength(1);
    // And B's key did not make A's top-up visible to B.
    expect(
      (await api(sys.url, "GET", `/v1/wallet/top-ups/${a.body.id}`, { user: "idem-scope-b" })).status,
    ).toBe(404);
  });

  it("while the first request is still in flight gets 409, and the first one wins", async () => {
    sys.standin.injectFault({
      method: "POST",
      pathPrefix: "/v1/payment_intents",
      kind: "delay",
      delayMs: 2_000,
    });
    const firstP = topUp(sys.url, "idem-flight", 3_000, "usd", "flight-1");
    await eventually(
      async () =>
        (await sys.tdb
          .db("http_idempotency_keys")
          .where({ user_id: "idem-flight", state: "in_flight" })
          .first()) !== undefined,
      { what: "the first request to claim its key" },
    );

    const dup = await topUp(sys.url, "idem-flight", 3_000, "usd", "flight-1");
    const first = await firstP;

    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe("idempotency_request_in_flight");
    expect(first.status).toBe(201);
    const again = await topUp(sys.url, "idem-flight", 3_000, "usd", "flight-1");
    expect(again.body).toEqual(first.body);
    expect((await paymentIntentsOf("idem-flight")).map((pi) => pi.id)).toEqual([
      first.body.payment_intent_id,
    ]);
  });
});

describe("a Stripe failure while creating the PaymentIntent", () => {
  const FAILURES: Array<[string, Omit<FaultSpec, "pathPrefix">, number, string]> = [
    ["Stripe answers 500", { kind: "500" }, 502, "stripe_error"],
    // A rate limit is a busy dependency, not a broken one: 503 with Retry-After, as for our own budget.
    ["Stripe answers 429", { kind: "429" }, 503, "stripe_rate_limited"],
    // stripe-node retries a reset connection once by itself, so both attempts are dropped.
    ["the connection drops after Stripe acted", { kind: "drop_after", times: 2 }, 503, "stripe_unavailable"],
  ];

  const cases = FAILURES.map(([name, fault, status, code]) => [name, status, code, fault] as const);
  it.each(cases)(
    "%s → %i %s; a retry with the same key gets the one PaymentIntent",
    async (name, status, code, fault) => {
      const user = `idem-fail-${fault.kind}`;
      sys.standin.injectFault({ method: "POST", pathPrefix: "/v1/payment_intents", ...fault });

      const logged = sys.standin.requests().length;
      const failed = await topUp(sys.url, user, 4_200, "usd", "fail-1");
      const dropped = sys.standin
        .requests()
        .slice(logged)
        .filter((r) => r.dropped).length;
      sys.standin.clearFaults();

      expect(failed.status, name).toBe(status);
      expect(failed.body).toMatchObject({
        error: { code, message: expect.any(String), request_id: expect.any(String) },
      });
      const before = await paymentIntentsOf(user);
      // Only a dropped connection leaves a PaymentIntent behind at Stripe, however often the SDK retried.
      expect(before).toHaveLength(fault.kind === "drop_after" ? 1 : 0);
      expect(dropped > 0).toBe(fault.kind === "drop_after");

      const retry = await topUp(sys.url, user, 4_200, "usd", "fail-1");

      expect(retry.status).toBe(201);
      expect(retry.headers.get("idempotent-replayed")).toBeNull();
      const after = await paymentIntentsOf(user);
      expect(after.map((pi) => pi.id)).toEqual([retry.body.payment_intent_id]);
      if (before[0]) expect(retry.body.payment_intent_id).toBe(before[0].id);
      expect(after[0]).toMatchObject({
        amount: 4_200,
        currency: "usd",
        metadata: { top_up_id: retry.body.id },
      });
      expect(await topUpRows(user)).toBe(1);
      const shown = await api(sys.url, "GET", `/v1/wallet/top-ups/${retry.body.id}`, { user });
      expect(shown.body).toMatchObject({
        payment_intent_id: retry.body.payment_intent_id,
        status: "requires_payment_method",
      });
    },
  );

  it("a retry with the same key but another amount is still refused after a failed attempt", async () => {
    sys.standin.injectFault({ method: "POST", pathPrefix: "/v1/payment_intents", kind: "500" });
    expect((await topUp(sys.url, "idem-fail-change", 4_200, "usd", "fail-2")).status).toBe(502);

    const changed = await topUp(sys.url, "idem-fail-change", 9_900, "usd", "fail-2");

    expect(changed.status).toBe(422);
    expect(changed.body.error.code).toBe("idempotency_key_reused");
    expect(await paymentIntentsOf("idem-fail-change")).toEqual([]);
    const original = await topUp(sys.url, "idem-fail-change", 4_200, "usd", "fail-2");
    expect(original.status).toBe(201);
    expect(await paymentIntentsOf("idem-fail-change")).toHaveLength(1);
  });
});
