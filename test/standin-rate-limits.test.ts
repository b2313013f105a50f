import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARNESS_API_KEY, startStandin } from "../src/standin/index.js";
import type { RequestLogEntry, Standin } from "../src/standin/index.js";
import { standinControl, stripeFailure, stripeFor } from "./support/stripe-client.js";

/**
 * Stripe's rate limits at the stand-in: 25 requests a second per account in test mode (100 in
 * live mode) and 25 a second per endpoint, answered with 429, Stripe's `rate_limit` error and the
 * `Stripe-Rate-Limited-Reason` header. Each test fires a burst concurrently and then checks the
 * request log: the limiter may refuse only what is over a limit, and must refuse something.
 */

let standin: Standin;
beforeAll(async () => {
  standin = await startStandin({ rateLimits: "test" });
});
afterAll(() => standin.close());

/** Coffer's key in tests (test/support/system.ts): the account whose budget is limited. */
const coffer = () =>
  new Stripe("sk_test_standin", {
    host: standin.host,
    port: standin.port,
    protocol: "http",
    maxNetworkRetries: 0,
  });

const settle = (calls: Array<Promise<unknown>>) => Promise.allSettled(calls);

/** Waits out the limiter's one-second window, so one test's burst does not spill into the next. */
const quiet = () => new Promise((r) => setTimeout(r, 1100));

/** The most requests of `entries` that succeeded within any 1000 ms. */
function busiestSecond(entries: RequestLogEntry[]): number {
  const times = entries.filter((e) => e.status === 200).map((e) => e.at);
  let best = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while ((times[j] ?? 0) - (times[i] ?? 0) >= 1000) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

function logSince(index: number, key: string): RequestLogEntry[] {
  return standin
    .requests()
    .slice(index)
    .filter((r) => r.key === key);
}

describe("test-mode limits", () => {
  it("refuses the 26th request a second on one endpoint with 429 endpoint-rate", async () => {
    const start = standin.requests().length;
    const results = await settle(Array.from({ length: 60 }, () => coffer().balance.retrieve()));
    const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    expect(refused.length).toBeGreaterThan(0);
    for (const err of refused) {
      expect(err).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(err).toMatchObject({ statusCode: 429, code: "rate_limit", rawType: "invalid_request_error" });
      const headers = (err as Stripe.errors.StripeError).headers ?? {};
      expect(headers["stripe-rate-limited-reason"]).toBe("endpoint-rate");
    }
    const log = logSince(start, "sk_test_standin");
    expect(log).toHaveLength(60);
    expect(busiestSecond(log)).toBeLessThanOrEqual(25);
    expect(log.filter((r) => r.status === 429).every((r) => r.rateLimited === "endpoint-rate")).toBe(true);
    // Nothing refused was let through early: each refusal had 25 successes in the second before it.
    for (const r of log.filter((e) => e.status === 429)) {
      const before = log.filter((e) => e.status === 200 && e.at <= r.at && e.at > r.at - 1000);
      expect(before.length).toBe(25);
    }
    await quiet();
    await expect(coffer().balance.retrieve()).resolves.toMatchObject({ object: "balance" });
  });

  it("counts every endpoint against the account's 25 a second: 429 global-rate", async () => {
    await quiet();
    const start = standin.requests().length;
    const stripe = coffer();
    // 12 on each of three endpoints: none passes its own 25, together they pass the account's.
    const calls = Array.from({ length: 12 }, () => [
      stripe.balance.retrieve(),
      stripe.events.list({ limit: 1 }),
      stripe.paymentIntents.list({ limit: 1 }),
    ]).flat();
    const results = await settle(calls);
    const log = logSince(start, "sk_test_standin");
    expect(log).toHaveLength(36);
    expect(results.filter((r) => r.status === "rejected").length).toBeGreaterThan(0);
    expect(new Set(log.filter((r) => r.status === 429).map((r) => r.rateLimited))).toEqual(
      new Set(["global-rate"]),
    );
    expect(busiestSecond(log)).toBeLessThanOrEqual(25);
    const err = (results.find((r) => r.status === "rejected") as PromiseRejectedResult)
      .reason as Stripe.errors.StripeError;
    expect(err.headers?.["stripe-rate-limited-reason"]).toBe("global-rate");
  });

  it("never limits the harness's own key, which stands for the world outside Coffer's account", async () => {
    await quiet();
    const start = standin.requests().length;
    const harness = stripeFor(standin);
    const results = await settle(Array.from({ length: 60 }, () => harness.balance.retrieve()));
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    const log = logSince(start, HARNESS_API_KEY);
    expect(log.map((r) => r.status)).toEqual(Array(60).fill(200));
    // ...and does not spend Coffer's budget either.
    await expect(coffer().balance.retrieve()).resolves.toMatchObject({ object: "balance" });
  });

  it("saves nothing under an idempotency key when it refuses, so the retry runs", async () => {
    await quiet();
    const stripe = coffer();
    await settle(Array.from({ length: 25 }, () => stripe.paymentIntents.list({ limit: 1 })));
    await settle(Array.from({ length: 5 }, () => stripe.balance.retrieve()));
    const key = `limited-${Date.now()}`;
    const refused = await stripeFailure(
      stripe.paymentIntents.create({ amount: 1000, currency: "usd" }, { idempotencyKey: key }),
    );
    expect(refused).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    await quiet();
    const created = await stripe.paymentIntents.create(
      { amount: 1000, currency: "usd" },
      { idempotencyKey: key },
    );
    expect(created.lastResponse.headers["idempotent-replayed"]).toBeUndefined();
  });
});

describe("live-mode limits and the control", () => {
  it("lets 100 a second through across endpoints in live mode, still 25 per endpoint", async () => {
    await quiet();
    const control = standinControl(standin.url, "/config", { rate_limits: "live" });
    expect((await control).body).toMatchObject({ rate_limits: "live" });
    const start = standin.requests().length;
    const stripe = coffer();
    const perEndpoint = [
      () => stripe.balance.retrieve(),
      () => stripe.events.list({ limit: 1 }),
      () => stripe.paymentIntents.list({ limit: 1 }),
      () => stripe.charges.list({ limit: 1 }),
      () => stripe.refunds.list({ limit: 1 }),
    ];
    // 30 on each of five endpoints: 5 over on every endpoint, and 125 against a global 100.
    await settle(perEndpoint.flatMap((call) => Array.from({ length: 30 }, () => call())));
    const log = logSince(start, "sk_test_standin");
    expect(log).toHaveLength(150);
    const byEndpoint = new Map<string, RequestLogEntry[]>();
    for (const r of log) byEndpoint.set(r.path, [...(byEndpoint.get(r.path) ?? []), r]);
    for (const entries of byEndpoint.values()) expect(busiestSecond(entries)).toBeLessThanOrEqual(25);
    expect(busiestSecond(log)).toBeLessThanOrEqual(100);
    expect(busiestSecond(log)).toBeGreaterThan(25);
    expect(log.some((r) => r.rateLimited === "endpoint-rate")).toBe(true);
  });

  it("switches off over HTTP, and validates the mode", async () => {
    expect((await standinControl(standin.url, "/config", { rate_limits: "fast" })).status).toBe(400);
    expect((await standinControl(standin.url, "/config", { rate_limits: "off" })).body).toMatchObject({
      rate_limits: "off",
    });
    const results = await settle(Array.from({ length: 60 }, () => coffer().balance.retrieve()));
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    standin.setRateLimits("test");
  });
});
