import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWeb, type WebUnderTest } from "./support/hostile-system.js";
import { bearer } from "./support/tokens.js";

/**
 * Every route that moves money or calls Stripe carries the caller limit (issue 11, item 6):
 * with RATE_LIMIT_PER_MINUTE=1, a caller's second request to it is 429 whatever the first got.
 * The routes come from /openapi.json: every authenticated POST, PUT, PATCH and DELETE but the few
 * named in NOT_MONEY, so one added later is held to this without editing the test.
 */
let web: WebUnderTest;
let doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
beforeAll(async () => {
  web = await startWeb({ RATE_LIMIT_PER_MINUTE: "1" });
  doc = (await (await fetch(`${web.url}/openapi.json`)).json()) as typeof doc;
});
afterAll(async () => {
  await web?.stop();
});

const WRITES = ["post", "put", "patch", "delete"];
/**
 * Writes that neither move money nor call Stripe, each named here on purpose (a new route is
 * limited unless someone decides otherwise). Bull Board's actions are its own UI's.
 */
const NOT_MONEY = new Set(["POST /admin/notifications/{id}/delivered"]);
const moneyRoutes = () =>
  Object.entries(doc.paths)
    .filter(([path]) => /^\/(v1|admin)\//.test(path) && !path.startsWith("/admin/queues"))
    .flatMap(([path, item]) => WRITES.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`))
    .filter((route) => !NOT_MONEY.has(route));

async function post(route: string, sub: string, admin: boolean, base = web.url) {
  const [method, path] = route.split(" ") as [string, string];
  const res = await fetch(`${base}${path.replace(/\{\w+\}/g, "x_missing")}`, {
    method,
    headers: {
      ...bearer(sub, admin ? { role: "admin" } : {}),
      "content-type": "application/json",
      "idempotency-key": randomUUID(),
    },
    body: "{}",
  });
  const body = (await res.json()) as { error: { code: string; retry_after_s?: number } };
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body };
}

describe("the caller limit on every money route", () => {
  it("finds the routes it must hold", () => {
    expect(moneyRoutes()).toEqual(
      expect.arrayContaining([
        "POST /v1/wallet/top-ups",
        "POST /v1/withdrawals",
        "POST /v1/withdrawals/{id}/cancel",
        "POST /v1/connect/account",
        "POST /v1/bank-accounts/session",
        "POST /admin/withdrawals/{id}/approve",
        "POST /admin/withdrawals/{id}/reject",
        "POST /admin/events/{id}/replay",
        "POST /admin/reconciliation/runs",
        "POST /admin/reconciliation/opening",
      ]),
    );
  });

  it("answers a caller's second request 429 with Retry-After, on each, and documents it", async () => {
    for (const route of moneyRoutes()) {
      const [method, path] = route.split(" ") as [string, string];
      const admin = path.startsWith("/admin/");
      const sub = `limited-${randomUUID()}`;
      const first = await post(route, sub, admin);
      expect(first.status, `${route}: ${JSON.stringify(first.body)}`).toBeLessThan(500);
      expect(first.status, route).not.toBe(429);
      const second = await post(route, sub, admin);
      expect(second.status, route).toBe(429);
      expect(second.body, route).toMatchObject({ error: { code: "rate_limited" } });
      expect(Number(second.retryAfter), route).toBe(second.body.error.retry_after_s);
      expect(doc.paths[path]![method.toLowerCase()]!.responses, route).toHaveProperty("429");
    }
  });

  it("counts each visit of /connect/refresh (a link made at Stripe) as its account owner's", async () => {
    // The page has no bearer token; its signed token names the account, so the owner's /v1 budget
    // is the one it spends. With 1 a minute, onboarding spends it, and the refresh is refused
    // before Stripe is asked for a link.
    const sub = `refresher-${randomUUID()}`;
    const onboard = await post("POST /v1/connect/account", sub, false);
    expect(onboard.status).toBe(200);
    const link = new URL((onboard.body as unknown as { onboarding_url: string }).onboarding_url);
    const refresh = new URL(link.searchParams.get("refresh_url")!);
    const res = await fetch(`${web.url}/connect/refresh${refresh.search}`, { redirect: "manual" });
    expect(res.status).toBe(429);
    const body = (await res.json()) as { error: { code: string; retry_after_s: number } };
    expect(body.error.code).toBe("rate_limited");
    expect(Number(res.headers.get("retry-after"))).toBe(body.error.retry_after_s);
    expect(doc.paths["/connect/refresh"]!.get!.responses).toHaveProperty("429");
    // Another owner's link is not held by this one's count.
    const other = `refresher-${randomUUID()}`;
    expect((await post("POST /v1/connect/account", other, false)).status).toBe(200);
  });

  it("leaves reads alone", async () => {
    const sub = `reader-${randomUUID()}`;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${web.url}/v1/wallet`, { headers: bearer(sub) });
      expect(res.status).toBe(200);
    }
  });
});

describe("while Redis is away", () => {
  it("keeps the money routes open and the limit per process", async () => {
    const away = await startWeb({ RATE_LIMIT_PER_MINUTE: "2", REDIS_URL: "redis://127.0.0.1:1" });
    // BullMQ prints each failed reconnect otherwise; that Redis is away is the point here.
    for (const q of Object.values(away.queues)) q.on("error", () => undefined);
    try {
      const sub = `no-redis-${randomUUID()}`;
      const cancel = () => post("POST /v1/withdrawals/{id}/cancel", sub, false, away.url);
      const started = Date.now();
      expect((await cancel()).status).toBe(404);
      expect((await cancel()).status).toBe(404);
      const third = await cancel();
      expect(third.status).toBe(429);
      expect(Number(third.retryAfter)).toBeGreaterThanOrEqual(1);
      // Counted in memory at once, not after a Redis timeout per request.
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await away.stop();
    }
  });
});
