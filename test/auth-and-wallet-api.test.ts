import { generateKeyPairSync } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postPosting } from "../src/db/stores/ledger.js";
import { ensureUser } from "../src/db/stores/users.js";
import { withTransaction } from "../src/db/transaction.js";
import { paymentCaptured } from "../src/ledger/movements.js";
import type { Currency } from "../src/money/currencies.js";
import { api, topUp } from "./support/api.js";
import { startSystem, type System } from "./support/system.js";
import { JWT_SECRET } from "./support/tokens.js";

/** Bearer authentication, user provisioning, and the read side of the wallet API. */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
});
afterAll(async () => {
  await sys?.stop();
});

const nowS = () => Math.floor(Date.now() / 1000);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
const { privateKey: RSA_KEY } = generateKeyPairSync("rsa", { modulusLength: 2048 });

/** Credits a wallet the way a captured payment would, straight through the ledger store. */
async function credit(user: string, piId: string, amountMinor: number, currency = "usd") {
  const posting = paymentCaptured(piId, user, { amountMinor, currency: currency as Currency });
  await ensureUser(sys.tdb.db, user);
  await withTransaction(sys.tdb.db, (trx) => postPosting(trx, posting));
}

const userRow = (id: string) => sys.tdb.db("users").where({ id }).first();
const get = (path: string, user: string, headers: Record<string, string> = {}) =>
  api(sys.url, "GET", path, { user, headers });

describe("authentication", () => {
  const exp = () => nowS() + 600;
  const BAD: Array<[string, string | undefined, string]> = [
    ["no Authorization header", undefined, "intruder-none"],
    ["a garbage token", "Bearer garbage", "intruder-garbage"],
    ["a Basic credential", `Basic ${Buffer.from("a:b").toString("base64")}`, "intruder-basic"],
    [
      "a token signed with another secret",
      `Bearer ${jwt.sign({ sub: "intruder-secret", exp: exp() }, "another-secret-16-chars")}`,
      "intruder-secret",
    ],
    [
      "an alg: none token",
      `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "intruder-none-alg", exp: exp() })}.`,
      "intruder-none-alg",
    ],
    [
      "an RS256 token",
      `Bearer ${jwt.sign({ sub: "intruder-rs", exp: exp() }, RSA_KEY, { algorithm: "RS256" })}`,
      "intruder-rs",
    ],
    [
      "an HS512 token with the right secret",
      `Bearer ${jwt.sign({ sub: "intruder-512", exp: exp() }, JWT_SECRET, { algorithm: "HS512" })}`,
      "intruder-512",
    ],
    [
      "an expired token",
      `Bearer ${jwt.sign({ sub: "intruder-expired", exp: nowS() - 5 }, JWT_SECRET)}`,
      "intruder-expired",
    ],
    [
      "a token not valid yet",
      `Bearer ${jwt.sign({ sub: "intruder-nbf", exp: exp(), nbf: exp() }, JWT_SECRET)}`,
      "intruder-nbf",
    ],
    ["a token without sub", `Bearer ${jwt.sign({ exp: exp() }, JWT_SECRET)}`, ""],
    ["a token with an empty sub", `Bearer ${jwt.sign({ sub: "", exp: exp() }, JWT_SECRET)}`, ""],
    ["a token with a numeric sub", `Bearer ${jwt.sign({ sub: 42, exp: exp() }, JWT_SECRET)}`, "42"],
    ["a token without exp", `Bearer ${jwt.sign({ sub: "intruder-noexp" }, JWT_SECRET)}`, "intruder-noexp"],
  ];

  it.each(BAD)("%s → 401 unauthorized, nobody provisioned", async (_name, authorization, sub) => {
    for (const [method, path] of [
      ["GET", "/v1/wallet"],
      ["GET", "/v1/wallet/ledger"],
      ["POST", "/v1/wallet/top-ups"],
    ]) {
      const res = await api(sys.url, method!, path!, { headers: authorization ? { authorization } : {} });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.body).toEqual({
        error: {
          code: "unauthorized",
          message: expect.any(String),
          request_id: res.headers.get("request-id"),
        },
      });
    }
    expect(await userRow(sub)).toBeUndefined();
  });

  it.each([
    "auth0|abc:def",
    "google-oauth2|1234567890",
    "user@example.com",
    "Ünïcødé 用户",
    " spaced ",
    "x".repeat(255),
  ])("provisions %j verbatim on its first request", async (sub) => {
    expect(await userRow(sub)).toBeUndefined();
    const res = await get("/v1/wallet", sub);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: sub, balances: [] });
    expect((await userRow(sub))?.id).toBe(sub);
    await get("/v1/wallet", sub);
    expect(Number((await sys.tdb.db("users").where({ id: sub }).count({ n: "*" }).first())?.n)).toBe(1);
  });
});

describe("GET /v1/wallet", () => {
  it("answers with the balances and an ETag, 304 while nothing changed, a new ETag after a credit", async () => {
    const user = "wallet-etag";
    const first = await get("/v1/wallet", user);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[^"]+"$/);
    expect((await get("/v1/wallet", user, { "if-none-match": etag! })).status).toBe(304);

    await credit(user, "pi_wallet_etag_1", 1_234);
    await credit(user, "pi_wallet_etag_2", 500, "jpy");

    const changed = await get("/v1/wallet", user, { "if-none-match": etag! });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({
      user_id: user,
      balances: [
        { currency: "jpy", available_minor: 500, pending_minor: 0, held_minor: 0, settling_minor: 500 },
        { currency: "usd", available_minor: 1_234, pending_minor: 0, held_minor: 0, settling_minor: 1_234 },
      ],
    });
    const etag2 = changed.headers.get("etag");
    expect(etag2).not.toBe(etag);
    expect((await get("/v1/wallet", user, { "if-none-match": etag2! })).status).toBe(304);
    expect((await get("/v1/wallet", "wallet-other", { "if-none-match": etag2! })).status).toBe(200);
  });
});

describe("GET /v1/wallet/ledger", () => {
  const A = "ledger-a";
  const B = "ledger-b";
  beforeAll(async () => {
    for (let i = 0; i < 25; i++) await credit(A, `pi_ledger_a_${i}`, 100 + i, i < 22 ? "usd" : "eur");
    await credit(B, "pi_ledger_b_0", 7_777);
  });

  it("pages through 25 entries newest first with limit, starting_after and has_more", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const pages: Array<[number, boolean]> = [];
    let cursor: string | undefined;
    do {
      const q = `?limit=10${cursor ? `&starting_after=${cursor}` : ""}`;
      const res = await get(`/v1/wallet/ledger${q}`, A);
      expect(res.status).toBe(200);
      pages.push([res.body.data.length, res.body.has_more]);
      seen.push(...res.body.data);
      cursor = res.body.has_more ? (res.body.data.at(-1).id as string) : undefined;
    } while (cursor);

    expect(pages).toEqual([
      [10, true],
      [10, true],
      [5, false],
    ]);
    expect(new Set(seen.map((e) => e.id)).size).toBe(25);
    expect(seen.map((e) => e.amount_minor)).toEqual(Array.from({ length: 25 }, (_, i) => 124 - i));
    expect(seen.every((e) => e.account === "available" && e.kind === "payment_captured")).toBe(true);
    const all = await get("/v1/wallet/ledger?limit=100", A);
    expect([all.body.data.length, all.body.has_more]).toEqual([25, false]);
    expect((await get("/v1/wallet/ledger", A)).body.data).toHaveLength(10);
    expect(
      (await get("/v1/wallet/ledger?currency=eur&limit=100", A)).body.data.map(
        (e: { amount_minor: number }) => e.amount_minor,
      ),
    ).toEqual([124, 123, 122]);
  });

  it("never shows one user's entries to another, even through a cursor", async () => {
    const a = (await get("/v1/wallet/ledger?limit=100", A)).body.data as Array<{ id: string }>;
    const b = await get("/v1/wallet/ledger?limit=100", B);
    expect(b.body.data.map((e: { source_id: string }) => e.source_id)).toEqual(["pi_ledger_b_0"]);
    const viaCursor = await get(`/v1/wallet/ledger?starting_after=${a[0]!.id}`, B);
    expect(viaCursor.body.data.every((e: { source_id: string }) => e.source_id === "pi_ledger_b_0")).toBe(
      true,
    );
    expect((await get("/v1/wallet", B)).body.balances).toEqual([
      { currency: "usd", available_minor: 7_777, pending_minor: 0, held_minor: 0, settling_minor: 7_777 },
    ]);
  });

  it.each([
    ["limit=0", 422, "invalid_field"],
    ["limit=101", 422, "invalid_field"],
    ["limit=-1", 422, "invalid_field"],
    ["limit=abc", 422, "invalid_field"],
    ["limit=1.5", 422, "invalid_field"],
    ["limit=", 422, "invalid_field"],
    ["limit=1&limit=2", 422, "query_param_repeated"],
    ["account=available&account=held", 422, "query_param_repeated"],
    ["starting_after=", 400, "invalid_cursor"],
    ["starting_after=nope", 400, "invalid_cursor"],
    ["starting_after=le_abc", 400, "invalid_cursor"],
    ["account=stripe", 422, "invalid_field"],
    ["user_id=ledger-b", 422, "unknown_field"],
  ])("?%s → %i %s", async (query, status, code) => {
    const res = await get(`/v1/wallet/ledger?${query}`, A);
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ code, request_id: res.headers.get("request-id") });
  });
});

describe("GET /v1/wallet/top-ups", () => {
  it("pages through the caller's top-ups and hides everyone else's", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 7; i++)
      mine.unshift((await topUp(sys.url, "tops-a", 1_000 + i, "usd", `tops-a-${i}`)).body.id);
    const theirs = (await topUp(sys.url, "tops-b", 5_000, "usd", "tops-b-0")).body;

    const p1 = await get("/v1/wallet/top-ups?limit=4", "tops-a");
    const p2 = await get(`/v1/wallet/top-ups?limit=4&starting_after=${p1.body.data.at(-1).id}`, "tops-a");
    expect([p1.body.has_more, p2.body.has_more]).toEqual([true, false]);
    expect([...p1.body.data, ...p2.body.data].map((t: { id: string }) => t.id)).toEqual(mine);
    expect(p1.body.data[0]).toEqual({
      id: mine[0],
      payment_intent_id: expect.stringMatching(/^pi_/),
      amount_minor: 1_006,
      currency: "usd",
      status: "requires_payment_method",
      amount_received_minor: 0,
      pending_minor: 0,
      refunded_minor: 0,
      created_at: expect.any(String),
    });
    expect(p1.body.data[0]).not.toHaveProperty("client_secret");

    const other = await get(`/v1/wallet/top-ups/${theirs.id}`, "tops-a");
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe("not_found");
    expect((await get(`/v1/wallet/top-ups/${theirs.id}`, "tops-b")).body.id).toBe(theirs.id);
    expect((await get("/v1/wallet/top-ups/top_doesnotexist", "tops-a")).status).toBe(404);
    const b = await get("/v1/wallet/top-ups?limit=100", "tops-b");
    expect(b.body.data.map((t: { id: string }) => t.id)).toEqual([theirs.id]);
    expect((await get("/v1/wallet/top-ups?limit=0", "tops-a")).status).toBe(422);
  });
});
