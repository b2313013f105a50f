import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { eventEnvelope, sign, stripeId } from "./support/events.js";
import { metric, startWeb, type WebUnderTest } from "./support/hostile-system.js";
import { JWT_SECRET } from "./support/tokens.js";
import { send } from "./support/web-process.js";

/**
 * The webhook route's per-address bound on refusals (src/http/webhook-guard.ts) never refuses a
 * validly signed delivery: an address over the bound still has a request whose Stripe-Signature
 * could verify read and verified, so Stripe is heard even from an address it shares with a
 * flood; only a request whose header cannot verify is answered 429 before its body is read.
 * Behind TRUSTED_PROXY_HOPS proxies the address is the client's, from X-Forwarded-For.
 */
const LIMIT = 3;
let direct: WebUnderTest;
let proxied: WebUnderTest;
beforeAll(async () => {
  const env = { WEBHOOK_REFUSALS_PER_MINUTE: String(LIMIT) };
  [direct, proxied] = await Promise.all([startWeb(env), startWeb({ ...env, TRUSTED_PROXY_HOPS: "1" })]);
}, 60_000);
afterAll(async () => {
  await Promise.all([direct?.stop(), proxied?.stop()]);
});

const nowS = () => Math.floor(Date.now() / 1000);
const hook = (web: WebUnderTest, o: { headers?: Record<string, string>; body?: string; from?: string }) =>
  send(web.url, "POST", "/webhooks/stripe", {
    headers: { "content-type": "application/json", ...o.headers },
    body: o.body ?? "{}",
    ...(o.from && { localAddress: o.from }),
  });
const unsigned = (web: WebUnderTest, from?: string, xff?: string) =>
  hook(web, { ...(from && { from }), ...(xff && { headers: { "x-forwarded-for": xff } }) });
const signedEvent = () => {
  const body = JSON.stringify(eventEnvelope("customer.created", { id: stripeId("cus"), object: "customer" }));
  return { body, headers: { "stripe-signature": sign(body) } };
};

/** Sends the headers of a 100 kB body and none of it: the answer must come without the body. */
function headersOnly(web: WebUnderTest, from: string, signature?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${web.url}/webhooks/stripe`, {
      method: "POST",
      localAddress: from,
      headers: {
        "content-type": "application/json",
        "content-length": "100000",
        ...(signature && { "stripe-signature": signature }),
      },
    });
    req.on("response", (res) => {
      resolve(res.statusCode!);
      res.resume();
      req.destroy();
    });
    req.on("error", reject);
    req.flushHeaders();
  });
}

describe("an address over the refusal bound", () => {
  const from = "127.0.0.21";
  beforeAll(async () => {
    for (let i = 0; i < LIMIT; i++) expect((await unsigned(direct, from)).status).toBe(400);
    expect((await unsigned(direct, from)).status).toBe(429);
  });

  it("still has a validly signed delivery read, stored and answered 200", async () => {
    for (let i = 0; i < 3; i++) {
      const e = signedEvent();
      const res = await hook(direct, { ...e, from });
      expect(res).toMatchObject({ status: 200, body: { received: true } });
      const id = (JSON.parse(e.body) as { id: string }).id;
      expect(await direct.tdb.db("stripe_webhook_events").where({ id }).first()).toBeDefined();
    }
  });

  it("answers a signature that could verify but does not with 429, after reading the body", async () => {
    const forged = `t=${nowS()},v1=${"0".repeat(64)}`;
    const res = await hook(direct, { from, headers: { "stripe-signature": forged } });
    expect(res).toMatchObject({ status: 429, body: { error: { code: "rate_limited" } } });
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
  });

  it("answers 429 before the body is read when the header cannot verify", async () => {
    const before = await metric(direct.url, 'coffer_webhooks_rejected_total{reason="rate_limited"}');
    expect(await headersOnly(direct, from)).toBe(429);
    expect(await headersOnly(direct, from, "nonsense")).toBe(429);
    expect(await headersOnly(direct, from, `t=${nowS() - 3_600},v1=${"a".repeat(64)}`)).toBe(429);
    expect(await headersOnly(direct, from, `t=${nowS() + 3_600},v1=${"a".repeat(64)}`)).toBe(429);
    expect(await headersOnly(direct, from, `t=${nowS()},v1=${"A".repeat(64)}`)).toBe(429);
    expect(await headersOnly(direct, from, `t=${nowS()},v0=${"a".repeat(64)}`)).toBe(429);
    expect(await metric(direct.url, 'coffer_webhooks_rejected_total{reason="rate_limited"}')).toBe(
      before + 6,
    );
  });

  it("leaves a signed-looking request from an address under the bound to the usual refusal", async () => {
    const forged = `t=${nowS()},v1=${"0".repeat(64)}`;
    const res = await hook(direct, { from: "127.0.0.22", headers: { "stripe-signature": forged } });
    expect(res).toMatchObject({ status: 400, body: { error: { code: "webhook_signature_invalid" } } });
  });
});

describe("TRUSTED_PROXY_HOPS", () => {
  it("0 (the default): X-Forwarded-For is ignored, every request counts as the socket's address", async () => {
    const from = "127.0.0.23";
    const answers = [];
    for (let i = 0; i < LIMIT + 1; i++)
      answers.push((await unsigned(direct, from, `198.51.100.${i}`)).status);
    expect(answers).toEqual([...Array(LIMIT).fill(400), 429]);
  });

  it("1: the client is the last X-Forwarded-For entry, so clients behind one proxy are bounded apart", async () => {
    const answers = [];
    for (let i = 0; i < LIMIT + 1; i++)
      answers.push((await unsigned(proxied, undefined, "203.0.113.7")).status);
    expect(answers).toEqual([...Array(LIMIT).fill(400), 429]);
    // A client cannot step out by prepending entries: the proxy appends the address it saw.
    expect((await unsigned(proxied, undefined, "192.0.2.1, 203.0.113.7")).status).toBe(429);
    // Another client behind the same proxy (the same socket address) is heard.
    expect((await unsigned(proxied, undefined, "203.0.113.8")).status).toBe(400);
    const e = signedEvent();
    const signed = await hook(proxied, { ...e, headers: { ...e.headers, "x-forwarded-for": "203.0.113.7" } });
    expect(signed.status).toBe(200);
  });

  it("is validated at boot: a whole number from 0 to 16", () => {
    const base = { AUTH_JWT_SECRET: JWT_SECRET };
    expect(loadConfig(base).TRUSTED_PROXY_HOPS).toBe(0);
    expect(loadConfig({ ...base, TRUSTED_PROXY_HOPS: "2" }).TRUSTED_PROXY_HOPS).toBe(2);
    for (const bad of ["-1", "1.5", "x", "17"])
      expect(() => loadConfig({ ...base, TRUSTED_PROXY_HOPS: bad })).toThrow(/TRUSTED_PROXY_HOPS/);
  });
});
