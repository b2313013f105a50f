import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postPosting } from "../src/db/stores/ledger.js";
import { withTransaction } from "../src/db/transaction.js";
import { LEGACY_DEPRECATION, LEGACY_SUNSET } from "../src/http/legacy-amounts.js";
import { openingBalance } from "../src/ledger/movements.js";
import { currencyInfo, formatMinor, type Currency } from "../src/money/currencies.js";
import { api, pay } from "./support/api.js";
import { expectInvariants } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { readyUser } from "./support/withdrawals.js";

/**
 * `?include=legacy_amounts` for old clients that read decimal amounts: each `x_minor` gains a
 * decimal string `x`, exact to the currency's exponent (jpy 0, usd 2, kwd 3), negative ones
 * too; such answers are marked Deprecation and Sunset; without the parameter nothing changes,
 * and the wallet's two representations have different ETags.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1, env: { WALLET_CURRENCIES: "usd,jpy,kwd" } });
}, 60_000);
afterAll(async () => sys?.stop());

const cur = (c: string) => c as Currency;

/** The decimal string read back as minor units by string arithmetic alone: "-0.005" kwd → -5n. */
function minorOf(decimal: string, currency: string): bigint {
  const { exponent } = currencyInfo(cur(currency));
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(decimal);
  if (!m) throw new Error(`not a decimal: ${decimal}`);
  expect(m[3]?.length ?? 0).toBe(exponent); // always exactly the exponent's digits
  return BigInt(`${m[1]}${m[2]}${m[3] ?? ""}`);
}

/** Every `x_minor` of a body with a currency has `x`, and `x` is exactly `x_minor`. */
function expectExactDecimals(obj: Record<string, unknown>): void {
  const minors = Object.keys(obj).filter((k) => k.endsWith("_minor"));
  expect(minors.length).toBeGreaterThan(0);
  for (const k of minors) {
    const decimal = obj[k.slice(0, -"_minor".length)];
    expect(typeof decimal, k).toBe("string");
    expect(minorOf(decimal as string, obj.currency as string), k).toBe(BigInt(obj[k] as number));
  }
}

const noDecimals = (obj: Record<string, unknown>) =>
  expect(
    Object.keys(obj).filter((k) => /^(available|pending|held|settling|amount|fee|net|refunded)$/.test(k)),
  ).toEqual([]);

describe("formatMinor", () => {
  it("renders by the exponent, negatives and zero included, exactly at 2^53", () => {
    const cases: Array<[number | string, string, string]> = [
      [1234, "usd", "12.34"],
      [-5, "usd", "-0.05"],
      [0, "usd", "0.00"],
      [500, "jpy", "500"],
      [-7, "jpy", "-7"],
      [1005, "kwd", "1.005"],
      [-5, "kwd", "-0.005"],
      [-123_456_789, "kwd", "-123456.789"],
      [Number.MAX_SAFE_INTEGER, "usd", "90071992547409.91"],
      ["-9223372036854775808", "kwd", "-9223372036854775.808"], // pg's int8 as a string
    ];
    for (const [minor, c, want] of cases) expect(formatMinor(minor, cur(c)), `${minor} ${c}`).toBe(want);
  });

  it("reads back to the same minor units, for any integer", () => {
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (let i = 0; i < 2_000; i++) {
      const minor = Math.trunc((next() * Number.MAX_SAFE_INTEGER) / 2 ** (i % 50));
      for (const c of ["jpy", "usd", "kwd"])
        expect(minorOf(formatMinor(minor, cur(c)), c)).toBe(BigInt(minor));
    }
  });
});

describe("through HTTP", () => {
  it("the wallet: decimals beside each balance, negative ones too, with Deprecation, Sunset and its own ETag", async () => {
    const user = "legacy-wallet";
    await api(sys.url, "GET", "/v1/wallet", { user }); // provisions the user
    await withTransaction(sys.tdb.db, async (trx) => {
      await postPosting(trx, openingBalance(user, 1_234, cur("usd")));
      await postPosting(trx, openingBalance(user, -7, cur("jpy")));
      await postPosting(trx, openingBalance(user, -1_005, cur("kwd")));
    });
    const plain = await api(sys.url, "GET", "/v1/wallet", { user });
    const legacy = await api(sys.url, "GET", "/v1/wallet?include=legacy_amounts", { user });
    expect([plain.status, legacy.status]).toEqual([200, 200]);
    expect(plain.headers.get("deprecation")).toBeNull();
    expect(plain.headers.get("sunset")).toBeNull();
    for (const b of plain.body.balances) noDecimals(b);
    expect([legacy.headers.get("deprecation"), legacy.headers.get("sunset")]).toEqual([
      LEGACY_DEPRECATION,
      LEGACY_SUNSET,
    ]);
    const byCurrency = Object.fromEntries(
      (legacy.body.balances as Array<Record<string, unknown>>).map((b) => [b.currency, b]),
    );
    expect(byCurrency.usd).toEqual({
      currency: "usd",
      available_minor: 1_234,
      available: "12.34",
      pending_minor: 0,
      pending: "0.00",
      held_minor: 0,
      held: "0.00",
      settling_minor: 0,
      settling: "0.00",
    });
    expect(byCurrency.jpy).toMatchObject({ available_minor: -7, available: "-7", held: "0" });
    expect(byCurrency.kwd).toMatchObject({ available_minor: -1_005, available: "-1.005", held: "0.000" });
    for (const b of legacy.body.balances) expectExactDecimals(b);
    // Nothing else differs: drop the decimals and it is the plain body.
    const stripped = (legacy.body.balances as Array<Record<string, unknown>>).map((b) =>
      Object.fromEntries(Object.entries(b).filter(([k]) => k === "currency" || k.endsWith("_minor"))),
    );
    expect({ ...legacy.body, balances: stripped }).toEqual(plain.body);

    const [plainTag, legacyTag] = [plain.headers.get("etag")!, legacy.headers.get("etag")!];
    expect(legacyTag).not.toBe(plainTag);
    const revalidate = (q: string, tag: string) =>
      api(sys.url, "GET", `/v1/wallet${q}`, { user, headers: { "if-none-match": tag } });
    const same = await revalidate("?include=legacy_amounts", legacyTag);
    expect([same.status, same.headers.get("etag"), same.headers.get("deprecation")]).toEqual([
      304,
      legacyTag,
      LEGACY_DEPRECATION,
    ]);
    expect((await revalidate("", plainTag)).status).toBe(304);
    // A tag of the other representation never revalidates this one.
    expect((await revalidate("?include=legacy_amounts", plainTag)).status).toBe(200);
    expect((await revalidate("", legacyTag)).status).toBe(200);
    expect((await revalidate("?include=legacy_amounts", `W/${legacyTag}, "x"`)).status).toBe(304);
  });

  it("refuses another include value, and keeps the routes' own query checks", async () => {
    const bad = await api(sys.url, "GET", "/v1/wallet?include=everything", { user: "legacy-wallet" });
    expect([bad.status, bad.body.error.code, bad.body.error.param]).toEqual([
      422,
      "invalid_field",
      "include",
    ]);
    const extra = await api(sys.url, "GET", "/v1/wallet/top-ups?include=legacy_amounts&nope=1", {
      user: "legacy-wallet",
    });
    expect([extra.status, extra.body.error.code]).toEqual([422, "unknown_field"]);
    // Elsewhere `include` is not a parameter at all.
    const ledger = await api(sys.url, "GET", "/v1/wallet/ledger?include=legacy_amounts", {
      user: "legacy-wallet",
    });
    expect(ledger.status).toBe(422);
  });

  it("top-ups in jpy, usd and kwd: created, read and listed with exact decimals", async () => {
    const user = "legacy-topups";
    const made: Record<string, string> = {};
    for (const [c, minor] of [
      ["jpy", 5_000],
      ["usd", 2_550],
      ["kwd", 1_230],
    ] as const) {
      const created = await api(sys.url, "POST", "/v1/wallet/top-ups?include=legacy_amounts", {
        user,
        body: { amount_minor: minor, currency: c },
        headers: { "idempotency-key": `legacy-${c}` },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.headers.get("deprecation")).toBe(LEGACY_DEPRECATION);
      expectExactDecimals(created.body);
      made[c] = created.body.id as string;
      await pay(sys.standin.url, created.body.payment_intent_id as string);
    }
    await eventually(async () => {
      const list = await api(sys.url, "GET", "/v1/wallet/top-ups", { user });
      return list.body.data.every((t: { status: string }) => t.status === "succeeded");
    });
    const kwd = await api(sys.url, "GET", `/v1/wallet/top-ups/${made.kwd}?include=legacy_amounts`, { user });
    expect(kwd.body).toMatchObject({
      amount_minor: 1_230,
      amount: "1.230",
      amount_received: "1.230",
      refunded: "0.000",
    });
    const jpy = await api(sys.url, "GET", `/v1/wallet/top-ups/${made.jpy}?include=legacy_amounts`, { user });
    expect(jpy.body).toMatchObject({ amount_minor: 5_000, amount: "5000", amount_received: "5000" });
    const list = await api(sys.url, "GET", "/v1/wallet/top-ups?include=legacy_amounts&limit=10", { user });
    expect(list.body.data).toHaveLength(3);
    for (const t of list.body.data) expectExactDecimals(t);
    expect(list.headers.get("sunset")).toBe(LEGACY_SUNSET);
    const plain = await api(sys.url, "GET", "/v1/wallet/top-ups", { user });
    for (const t of plain.body.data) noDecimals(t);
    expect(plain.headers.get("deprecation")).toBeNull();
    // A replay of the create answers as it is asked: the stored answer has no decimals of its own.
    const replay = await api(sys.url, "POST", "/v1/wallet/top-ups", {
      user,
      body: { amount_minor: 1_230, currency: "kwd" },
      headers: { "idempotency-key": "legacy-kwd" },
    });
    expect(replay.status).toBe(201);
    noDecimals(replay.body);
  }, 60_000);

  it("withdrawals: requested, read, listed and canceled with amount, fee and net as decimals", async () => {
    const user = "legacy-withdraw";
    await readyUser(sys, user, 5_000);
    const created = await api(sys.url, "POST", "/v1/withdrawals?include=legacy_amounts", {
      user,
      body: { amount_minor: 1_999, currency: "usd" },
      headers: { "idempotency-key": "legacy-wd" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ amount_minor: 1_999, amount: "19.99" });
    expectExactDecimals(created.body);
    expect(minorOf(created.body.fee, "usd") + minorOf(created.body.net, "usd")).toBe(1_999n);
    const id = created.body.id as string;
    const one = await api(sys.url, "GET", `/v1/withdrawals/${id}?include=legacy_amounts`, { user });
    expectExactDecimals(one.body);
    expect(one.headers.get("deprecation")).toBe(LEGACY_DEPRECATION);
    const list = await api(sys.url, "GET", "/v1/withdrawals?include=legacy_amounts", { user });
    for (const w of list.body.data) expectExactDecimals(w);
    const plain = await api(sys.url, "GET", `/v1/withdrawals/${id}`, { user });
    noDecimals(plain.body);
    const canceled = await api(sys.url, "POST", `/v1/withdrawals/${id}/cancel?include=legacy_amounts`, {
      user,
    });
    expect(canceled.body).toMatchObject({ status: "canceled", amount: "19.99" });
    await expectInvariants(sys);
  }, 90_000);
});
