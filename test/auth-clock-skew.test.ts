import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyBearer } from "../src/http/auth.js";
import { DEFAULT_CLOCK_SKEW_S, loadConfig } from "../src/config.js";
import { startWeb, type WebUnderTest } from "./support/hostile-system.js";
import { JWT_SECRET } from "./support/tokens.js";

/**
 * `exp` may lie at most AUTH_MAX_TOKEN_LIFETIME_S away, plus AUTH_CLOCK_SKEW_S (default 60 s) for
 * an issuer whose clock runs ahead of ours: its full-lifetime token would otherwise be refused.
 * An expired token gets no leeway.
 */
const nowS = () => Math.floor(Date.now() / 1000);
const token = (expInS: number, role?: string) =>
  jwt.sign({ sub: "skewed", exp: nowS() + expInS, ...(role ? { role } : {}) }, JWT_SECRET);
const bearerFor = (expInS: number) => `Bearer ${token(expInS)}`;
const DAY = 86_400;
const rules = (clockSkewS: number) => ({
  AUTH_JWT_SECRET: JWT_SECRET,
  AUTH_MAX_TOKEN_LIFETIME_S: DAY,
  AUTH_CLOCK_SKEW_S: clockSkewS,
});

describe("verifyBearer", () => {
  it("defaults AUTH_CLOCK_SKEW_S to 60", () => {
    expect(DEFAULT_CLOCK_SKEW_S).toBe(60);
    expect(loadConfig({ AUTH_JWT_SECRET: JWT_SECRET }).AUTH_CLOCK_SKEW_S).toBe(60);
  });

  it("takes a full-lifetime token from an issuer up to the leeway ahead, not beyond", () => {
    expect(verifyBearer(bearerFor(DAY + 30), rules(60)).userId).toBe("skewed");
    expect(verifyBearer(bearerFor(DAY + 55), rules(DEFAULT_CLOCK_SKEW_S)).userId).toBe("skewed");
    expect(() => verifyBearer(bearerFor(DAY + 90), rules(60))).toThrow(/more than 86400 s away/);
    expect(() => verifyBearer(bearerFor(DAY + 5), rules(0))).toThrow(/more than 86400 s away/);
  });

  it("gives an expired token no leeway", () => {
    expect(() => verifyBearer(bearerFor(-5), rules(60))).toThrow(/invalid or expired/);
  });
});

describe("over HTTP, with AUTH_MAX_TOKEN_LIFETIME_S=600 and AUTH_CLOCK_SKEW_S=30", () => {
  let web: WebUnderTest;
  beforeAll(async () => {
    web = await startWeb({ AUTH_MAX_TOKEN_LIFETIME_S: "600", AUTH_CLOCK_SKEW_S: "30" });
  });
  afterAll(async () => {
    await web?.stop();
  });
  const wallet = (expInS: number) =>
    fetch(`${web.url}/v1/wallet`, { headers: { authorization: bearerFor(expInS) } });

  it("answers 200 within lifetime + leeway and 401 past it", async () => {
    expect((await wallet(600 + 20)).status).toBe(200);
    const refused = await wallet(600 + 45);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "unauthorized" } });
  });

  // The board verifies its own cookie and login form: the leeway there is the configured one too,
  // not the default of 60 s (under which 600 + 45 would pass).
  it("holds Bull Board's cookie and login to the same leeway", async () => {
    const byCookie = (expInS: number) =>
      fetch(`${web.url}/admin/queues/api/queues`, {
        headers: { cookie: `coffer_admin_token=${token(expInS, "admin")}` },
      });
    expect((await byCookie(600 + 20)).status).toBe(200);
    expect((await byCookie(600 + 45)).status).toBe(401);
    const login = (expInS: number) =>
      fetch(`${web.url}/admin/queues/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: token(expInS, "admin") }).toString(),
      });
    expect((await login(600 + 20)).status).toBe(303);
    const refused = await login(600 + 45);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "unauthorized" } });
  });

  it("refuses a negative leeway at boot", () => {
    expect(() => loadConfig({ AUTH_JWT_SECRET: JWT_SECRET, AUTH_CLOCK_SKEW_S: "-1" })).toThrow(
      /AUTH_CLOCK_SKEW_S/,
    );
  });
});
