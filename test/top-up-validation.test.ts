import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStripeClient } from "../src/stripe/client.js";
import { api } from "./support/api.js";
import { startSystem, type System } from "./support/system.js";

/**
 * POST /v1/wallet/top-ups refuses every bad input with its own status and code
 * (src/http/errors.ts), and a refused request writes nothing and calls nothing.
 * The wallets here hold bhd as well, so the three-decimal rule can be checked;
 * kwd is a known currency that they do not hold.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 0, env: { WALLET_CURRENCIES: "usd,eur,gbp,jpy,bhd" } });
});
afterAll(async () => {
  await sys?.stop();
});

const USER = "validation-user";

interface Bad {
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  key?: string | null;
}

const json = (body: unknown): Bad => ({ body });
const usd = (amount_minor: unknown): Bad => ({ body: { amount_minor, currency: "usd" } });
const cur = (currency: unknown): Bad => ({ body: { amount_minor: 1_000, currency } });

const BAD: Array<[string, Bad, number, string]> = [
  ["amount -1", usd(-1), 422, "amount_not_positive"],
  ["amount 0", usd(0), 422, "amount_not_positive"],
  ["amount 1.5", usd(1.5), 422, "amount_not_integer"],
  ['amount "10"', usd("10"), 422, "amount_invalid_type"],
  ["amount true", usd(true), 422, "amount_invalid_type"],
  ["amount {}", usd({}), 422, "amount_invalid_type"],
  ["amount 1e21", usd(1e21), 422, "amount_too_large"],
  ["amount 2^53", usd(2 ** 53), 422, "amount_too_large"],
  ["amount -2^53", usd(-(2 ** 53)), 422, "amount_too_large"],
  ["amount null", usd(null), 422, "amount_invalid_type"],
  ["amount missing", json({ currency: "usd" }), 422, "field_required"],
  ["amount NaN (not JSON)", { rawBody: '{"amount_minor": NaN, "currency": "usd"}' }, 400, "malformed_json"],
  [
    "amount Infinity (not JSON)",
    { rawBody: '{"amount_minor": Infinity, "currency": "usd"}' },
    400,
    "malformed_json",
  ],
  ["usd 49, below Stripe's minimum", usd(49), 422, "amount_below_minimum"],
  [
    "jpy 49, below Stripe's minimum",
    { body: { amount_minor: 49, currency: "jpy" } },
    422,
    "amount_below_minimum",
  ],
  ["usd 100,000,000, above the maximum", usd(100_000_000), 422, "amount_above_maximum"],
  [
    "bhd 1005, not a multiple of 10",
    { body: { amount_minor: 1_005, currency: "bhd" } },
    422,
    "amount_not_integer",
  ],
  ['currency "USD"', cur("USD"), 422, "currency_invalid"],
  ['currency "us"', cur("us"), 422, "currency_invalid"],
  ['currency "usdx"', cur("usdx"), 422, "currency_invalid"],
  ['currency "xyz"', cur("xyz"), 422, "currency_unknown"],
  ["currency 42", cur(42), 422, "currency_invalid"],
  ["currency null", cur(null), 422, "currency_invalid"],
  ["currency missing", json({ amount_minor: 1_000 }), 422, "field_required"],
  ['currency "kwd", known but not a wallet currency', cur("kwd"), 422, "currency_not_supported"],
  [
    "unknown field status",
    json({ amount_minor: 1_000, currency: "usd", status: "succeeded" }),
    422,
    "unknown_field",
  ],
  [
    "unknown field user_id",
    json({ amount_minor: 1_000, currency: "usd", user_id: "someone-else" }),
    422,
    "unknown_field",
  ],
  [
    "unknown field fee_minor",
    json({ amount_minor: 1_000, currency: "usd", fee_minor: 0 }),
    422,
    "unknown_field",
  ],
  ["unknown field extra", json({ amount_minor: 1_000, currency: "usd", extra: 1 }), 422, "unknown_field"],
  [
    "a __proto__ field",
    { rawBody: '{"amount_minor":1000,"currency":"usd","__proto__":{"status":"succeeded"}}' },
    422,
    "unknown_field",
  ],
  ["no Idempotency-Key", { ...usd(1_000), key: null }, 400, "idempotency_key_missing"],
  ["an Idempotency-Key of 256 characters", { ...usd(1_000), key: "k".repeat(256) }, 400, "bad_request"],
  ["an array body", json([{ amount_minor: 1_000, currency: "usd" }]), 400, "bad_request"],
  ["a string body", json("amount_minor=1000"), 400, "bad_request"],
  ["a null body", json(null), 400, "bad_request"],
  ["truncated JSON", { rawBody: '{"amount_minor": 1000,' }, 400, "malformed_json"],
  [
    "text/plain content type",
    { rawBody: '{"amount_minor": 1000, "currency": "usd"}', contentType: "text/plain" },
    400,
    "unsupported_media_type",
  ],
  [
    "a 20 KiB body",
    json({ amount_minor: 1_000, currency: "usd", pad: "x".repeat(20 * 1024) }),
    413,
    "body_too_large",
  ],
];

async function count(table: string, where: Record<string, string> = {}): Promise<number> {
  return Number((await sys.tdb.db(table).where(where).count({ n: "*" }).first())?.n);
}

async function send(bad: Bad, key: string) {
  const headers: Record<string, string> = {};
  if (bad.key !== null) headers["idempotency-key"] = bad.key ?? key;
  if (bad.rawBody !== undefined) headers["content-type"] = bad.contentType ?? "application/json";
  return api(sys.url, "POST", "/v1/wallet/top-ups", {
    user: USER,
    headers,
    ...(bad.body !== undefined && { body: bad.body }),
    ...(bad.rawBody !== undefined && { rawBody: bad.rawBody }),
  });
}

describe("POST /v1/wallet/top-ups refuses bad input and writes nothing", () => {
  const cases = BAD.map(([name, bad, status, code]) => [name, status, code, bad] as const);
  it.each(cases)("%s → %i %s", async (name, status, code, bad) => {
    const stripeCalls = sys.standin.requests().length;

    const res = await send(bad, `bad-${name.replace(/[^\w-]/g, "_")}`);

    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({
      error: { code, message: expect.any(String), request_id: res.headers.get("request-id") },
    });
    expect(await count("payment_transactions", { user_id: USER })).toBe(0);
    expect(await count("http_idempotency_keys", { user_id: USER })).toBe(0);
    expect(sys.standin.requests().length).toBe(stripeCalls);
  });
});

describe("POST /v1/wallet/top-ups accepts the edges of what is valid", () => {
  const stripe = () =>
    createStripeClient({ secretKey: "sk_test_validation", apiBase: sys.standin.url, timeoutMs: 5_000 });

  it.each([
    ["usd at Stripe's minimum", 50, "usd"],
    ["usd at the maximum", 99_999_999, "usd"],
    ["jpy, zero-decimal, in whole yen", 50, "jpy"],
    ["bhd, three-decimal, a multiple of 10", 1_000, "bhd"],
  ])("%s: %i %s", async (name, amount, currency) => {
    const user = `edge-${name.replaceAll(" ", "-")}`;
    const res = await api(sys.url, "POST", "/v1/wallet/top-ups", {
      user,
      body: { amount_minor: amount, currency },
      headers: { "idempotency-key": `edge-${amount}-${currency}` },
    });
    expect(res.body).toMatchObject({ amount_minor: amount, currency });
    expect(res.status).toBe(201);
    // The minor units go to Stripe unchanged: no ×100 for jpy, no rounding for bhd.
    const pi = await stripe().paymentIntents.retrieve(res.body.payment_intent_id as string);
    expect({ amount: pi.amount, currency: pi.currency }).toEqual({ amount, currency });
    expect(pi.metadata).toMatchObject({ user_id: user, purpose: "wallet_top_up", top_up_id: res.body.id });
    expect(await count("payment_transactions", { user_id: user })).toBe(1);
  });
});
