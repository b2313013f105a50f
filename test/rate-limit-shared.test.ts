import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, type TestDb } from "./support/db.js";
import { eventEnvelope, sign } from "./support/events.js";
import { REDIS_URL } from "./support/pg-urls.js";
import { JWT_SECRET, WEBHOOK_SECRET, bearer } from "./support/tokens.js";
import { send, spawnWeb, type Answer, type WebProc } from "./support/web-process.js";

/**
 * Issue 11, item 6: one limit shared by every web process through Redis. Two real web processes
 * (src/web.ts) on one database, one Redis and one QUEUE_PREFIX: twice the limit from one user,
 * spread over both, lets exactly the limit through; refused webhooks are bounded per client
 * address the same way; RATE_LIMIT_PER_MINUTE=0 and WEBHOOK_REFUSALS_PER_MINUTE=0 turn both off.
 */
const LIMIT = 5;
const WEBHOOK_LIMIT = 4;
let tdb: TestDb;
let a: WebProc;
let b: WebProc;
let off: WebProc;

beforeAll(async () => {
  tdb = await createTestDb();
  const env = {
    NODE_ENV: "test",
    DATABASE_URL: tdb.url,
    REDIS_URL,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    AUTH_JWT_SECRET: JWT_SECRET,
    // No route used here calls Stripe.
    STRIPE_API_BASE: "http://127.0.0.1:9",
    QUEUE_PREFIX: `test-${randomUUID()}`,
    LOG_LEVEL: "info",
  };
  const limited = { ...env, RATE_LIMIT_PER_MINUTE: String(LIMIT), WEBHOOK_REFUSALS_PER_MINUTE: "4" };
  [a, b, off] = await Promise.all([
    spawnWeb(limited),
    spawnWeb(limited),
    spawnWeb({ ...env, RATE_LIMIT_PER_MINUTE: "0", WEBHOOK_REFUSALS_PER_MINUTE: "0" }),
  ]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), off?.stop()]);
  await tdb?.drop();
});

const cancel = (web: WebProc, user: string) =>
  send(web.url, "POST", "/v1/withdrawals/wd_missing/cancel", {
    headers: { ...bearer(user), "content-type": "application/json" },
    body: "{}",
  });
const statuses = (answers: Answer[]) => answers.map((r) => r.status).sort();
const unsigned = (web: WebProc, localAddress: string) =>
  send(web.url, "POST", "/webhooks/stripe", {
    headers: { "content-type": "application/json" },
    body: "{}",
    localAddress,
  });
const signed = (web: WebProc, localAddress: string) => {
  const payload = JSON.stringify(eventEnvelope("customer.created", { id: "cus_x", object: "customer" }));
  return send(web.url, "POST", "/webhooks/stripe", {
    headers: { "content-type": "application/json", "stripe-signature": sign(payload) },
    body: payload,
    localAddress,
  });
};
async function metric(web: WebProc, series: string): Promise<number> {
  const text = await (await fetch(`${web.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe("the caller limit, across two web processes", () => {
  it("lets exactly RATE_LIMIT_PER_MINUTE of 2× the limit through, and answers the rest 429 with Retry-After", async () => {
    const user = `alice-${randomUUID()}`;
    const answers = await Promise.all(
      Array.from({ length: 2 * LIMIT }, (_, i) => cancel(i % 2 ? a : b, user)),
    );
    expect(statuses(answers)).toEqual([...Array(LIMIT).fill(404), ...Array(LIMIT).fill(429)]);
    for (const r of answers.filter((x) => x.status === 429)) {
      const retryAfter = Number(r.headers["retry-after"]);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(r.body).toMatchObject({ error: { code: "rate_limited", retry_after_s: retryAfter } });
      expect((r.body.error as { request_id: string }).request_id).toBeTruthy();
    }
    // Half went to each process, so a limit per process would have let all 2× the limit through.
  });

  it("counts each user apart, and an admin on /admin apart from the same sub on /v1", async () => {
    const user = `bob-${randomUUID()}`;
    for (let i = 0; i < LIMIT; i++) expect((await cancel(a, user)).status).toBe(404);
    expect((await cancel(b, user)).status).toBe(429);
    expect((await cancel(b, `carol-${randomUUID()}`)).status).toBe(404);
    const replay = await send(a.url, "POST", "/admin/events/evt_missing/replay", {
      headers: { ...bearer(user, { role: "admin" }), "content-type": "application/json" },
      body: "{}",
    });
    expect(replay.status).toBe(404);
  });

  it("RATE_LIMIT_PER_MINUTE=0 turns it off", async () => {
    const user = `dave-${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 4 * LIMIT }, () => cancel(off, user)));
    expect(new Set(statuses(answers))).toEqual(new Set([404]));
  });
});

describe("refused webhooks, per client address, across two web processes", () => {
  it("answers 400 to the first WEBHOOK_REFUSALS_PER_MINUTE refusals from one address, then 429, and counts it", async () => {
    const before =
      (await metric(a, 'coffer_webhooks_rejected_total{reason="rate_limited"}')) +
      (await metric(b, 'coffer_webhooks_rejected_total{reason="rate_limited"}'));
    const answers = await Promise.all(
      Array.from({ length: 3 * WEBHOOK_LIMIT }, (_, i) => unsigned(i % 2 ? a : b, "127.0.0.11")),
    );
    expect(statuses(answers)).toEqual([
      ...Array(WEBHOOK_LIMIT).fill(400),
      ...Array(2 * WEBHOOK_LIMIT).fill(429),
    ]);
    const limited = answers.find((r) => r.status === 429)!;
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(limited.body).toMatchObject({ error: { code: "rate_limited" } });
    const after =
      (await metric(a, 'coffer_webhooks_rejected_total{reason="rate_limited"}')) +
      (await metric(b, 'coffer_webhooks_rejected_total{reason="rate_limited"}'));
    expect(after - before).toBe(2 * WEBHOOK_LIMIT);
  });

  it("leaves other addresses alone, and never counts a validly signed delivery", async () => {
    expect((await unsigned(a, "127.0.0.11")).status).toBe(429);
    expect((await unsigned(b, "127.0.0.12")).status).toBe(400);
    for (let i = 0; i < 3 * WEBHOOK_LIMIT; i++) {
      const r = await signed(i % 2 ? a : b, "127.0.0.13");
      expect(r.status).toBe(200);
    }
    expect((await unsigned(a, "127.0.0.13")).status).toBe(400);
  });

  it("WEBHOOK_REFUSALS_PER_MINUTE=0 turns it off", async () => {
    const answers = await Promise.all(
      Array.from({ length: 3 * WEBHOOK_LIMIT }, () => unsigned(off, "127.0.0.14")),
    );
    expect(new Set(statuses(answers))).toEqual(new Set([400]));
  });
});
