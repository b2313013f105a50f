import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { startSystem, type System } from "./support/system.js";
import { tokenFor } from "./support/tokens.js";

/**
 * Bull Board sits behind admin auth; its cookie comes from its login page; a state-changing
 * request another site sent is refused; what an admin does there is audited after it ran,
 * with its outcome. (test/bull-board-browser.test.ts does the same in a real browser.)
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
});
afterAll(async () => sys?.stop());

const admin = () => tokenFor("ops", { role: "admin" });

/** node:http, so the test sets the headers a browser would (Origin, Sec-Fetch-Site, Referer, Cookie). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
  base = sys.url,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const auditCount = async () => Number((await sys.tdb.db("admin_audit_log").count({ n: "*" }).first())!.n);

describe("Bull Board at /admin/queues", () => {
  it("refuses anonymous callers and non-admins", async () => {
    expect((await api(sys.url, "GET", "/admin/queues")).status).toBe(401);
    expect((await api(sys.url, "GET", "/admin/queues/api/queues", { user: "u1" })).status).toBe(403);
  });

  it("serves admins, by header or cookie, and labels the whole board as one metrics route", async () => {
    const board = await api(sys.url, "GET", "/admin/queues", { user: "ops", role: "admin" });
    expect(board.status).toBe(200);
    const byCookie = await fetch(`${sys.url}/admin/queues/api/queues`, {
      headers: { cookie: `coffer_admin_token=${admin()}` },
    });
    expect(byCookie.status).toBe(200);
    const queues = (await byCookie.json()) as { queues: Array<{ name: string }> };
    expect(queues.queues.map((q) => q.name).sort()).toEqual([
      "disputes",
      "maintenance",
      "payments",
      "reconciliation",
      "refunds",
      "subscriptions",
      "withdrawals",
    ]);
    const metrics = await (await fetch(`${sys.url}/metrics`)).text();
    const routes = [...metrics.matchAll(/coffer_http_request_duration_seconds_count\{[^}]*route="([^"]+)"/g)];
    const boardRoutes = new Set(routes.map((m) => m[1]).filter((r) => r!.includes("queues") || r === "/"));
    expect([...boardRoutes]).toEqual(["/admin/queues"]);
  });

  it("turns an admin token into a strict, HttpOnly cookie scoped to the board, and back out", async () => {
    const page = await raw("GET", "/admin/queues", { accept: "text/html" });
    expect([page.status, page.headers.location]).toEqual([303, "/admin/queues/login"]);
    const expired = `coffer_admin_token=${tokenFor("ops", { role: "admin", expiresInS: -10 })}`;
    const stale = await raw("GET", "/admin/queues", { accept: "text/html", cookie: expired });
    expect([stale.status, stale.headers.location]).toEqual([303, "/admin/queues/login"]);
    const notAdmin = `coffer_admin_token=${tokenFor("u1")}`;
    expect((await raw("GET", "/admin/queues", { accept: "text/html", cookie: notAdmin })).status).toBe(403);
    expect(
      (await raw("GET", "/admin/queues/api/queues", { accept: "text/html", cookie: expired })).status,
    ).toBe(401);
    const form = await raw("GET", "/admin/queues/login", { accept: "text/html" });
    expect(form.body).toContain('<form method="post" action="/admin/queues/login">');

    const login = (token: string) =>
      raw(
        "POST",
        "/admin/queues/login",
        { "content-type": "application/x-www-form-urlencoded", origin: sys.url },
        new URLSearchParams({ token }).toString(),
      );
    const user = await login(tokenFor("u1"));
    expect([user.status, JSON.parse(user.body).error.code, user.headers["set-cookie"]]).toEqual([
      403,
      "forbidden",
      undefined,
    ]);
    expect((await login("not-a-jwt")).status).toBe(401);

    const ok = await login(admin());
    expect([ok.status, ok.headers.location]).toEqual([303, "/admin/queues"]);
    const [cookie] = ok.headers["set-cookie"] as string[];
    expect(cookie).toMatch(
      /^coffer_admin_token=[\w.-]+; Path=\/admin\/queues; Max-Age=(3599|3600); HttpOnly; SameSite=Strict$/,
    );
    const out = await raw("POST", "/admin/queues/logout", { origin: sys.url });
    expect((out.headers["set-cookie"] as string[])[0]).toMatch(
      /^coffer_admin_token=; Path=\/admin\/queues; Max-Age=0;/,
    );
  });

  it("refuses a state-changing request another site sent: 403 envelope, nothing queued, nothing audited", async () => {
    const cookie = `coffer_admin_token=${admin()}`;
    const form = { cookie, "content-type": "application/x-www-form-urlencoded" };
    const add = "/admin/queues/api/queues/payments/add";
    const body = "name=evil&data=%7B%7D";
    const before = { jobs: await sys.queues.payments.getJobCounts(), audit: await auditCount() };
    const senders: Array<Record<string, string>> = [
      { origin: "https://evil.example" },
      { origin: "null" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
      { referer: "https://evil.example/page" },
    ];
    for (const headers of senders) {
      const res = await raw("POST", add, { ...form, ...headers }, body);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      const parsed = JSON.parse(res.body) as { error: { code: string; message: string; request_id: string } };
      expect(parsed.error).toMatchObject({ code: "forbidden", request_id: expect.any(String) });
      expect(parsed.error.message).toMatch(/^cross-site request refused/);
    }
    // The login form is a state change too (login CSRF).
    expect(
      (await raw("POST", "/admin/queues/login", { origin: "https://evil.example" }, "token=x")).status,
    ).toBe(403);
    expect(await sys.queues.payments.getJobCounts()).toEqual(before.jobs);
    expect(await auditCount()).toBe(before.audit);

    // The board's own page, or a client that names no page (curl with a bearer token), may act.
    const same = await raw("PUT", "/admin/queues/api/queues/payments/retry/failed", {
      cookie,
      origin: sys.url,
    });
    expect(same.status).toBe(200);
    expect(await auditCount()).toBe(before.audit + 1);
  });

  it("audits each action after it ran, with its outcome; a 404 is audited as failed", async () => {
    const start = await auditCount();
    const action = await api(sys.url, "PUT", "/admin/queues/api/queues/payments/retry/failed", {
      user: "ops",
      role: "admin",
    });
    expect(action.status).toBe(200);
    const missing = await api(sys.url, "PUT", "/admin/queues/api/queues/payments/evt_nope/promote", {
      user: "ops",
      role: "admin",
    });
    expect(missing.status).toBe(404);
    const noRoute = await api(sys.url, "POST", "/admin/queues/api/nothing-here", {
      user: "ops",
      role: "admin",
    });
    expect(noRoute.status).toBe(404);
    const rows = await sys.tdb.db("admin_audit_log").where("id", ">", 0).orderBy("id").offset(start);
    expect(rows.map((r) => ({ actor: r.actor, action: r.action, target: r.target, after: r.after }))).toEqual(
      [
        {
          actor: "ops",
          action: "bull_board.put",
          target: "/api/queues/payments/retry/failed",
          after: { outcome: "succeeded", status: 200, retried: 0, skipped: 0, replayed: 0 },
        },
        {
          actor: "ops",
          action: "bull_board.put",
          target: "/api/queues/payments/evt_nope/promote",
          after: { outcome: "failed", status: 404, code: "ERRORS.JOB_NOT_FOUND" },
        },
        {
          actor: "ops",
          action: "bull_board.post",
          target: "/api/nothing-here",
          after: { outcome: "failed", status: 404, code: "not_found" },
        },
      ],
    );
    expect(JSON.parse(JSON.stringify(missing.body))).toMatchObject({
      error: { key: "ERRORS.JOB_NOT_FOUND" },
    });
    expect(noRoute.body.error.code).toBe("not_found");
  });
});

describe("behind a TLS-terminating proxy (PUBLIC_URL https)", () => {
  let proxied: System;
  beforeAll(async () => {
    proxied = await startSystem({ workers: 0, env: { PUBLIC_URL: "https://board.example" } });
  });
  afterAll(async () => proxied?.stop());

  it("marks the cookie Secure and takes the public origin as the board's own", async () => {
    const login = await fetch(`${proxied.url}/admin/queues/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: new URLSearchParams({ token: admin() }).toString(),
    });
    expect(login.status).toBe(303);
    expect(login.headers.get("set-cookie")).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
    // The browser names the public origin, not the socket's http one: that is this server.
    const retry = (origin: string) =>
      raw(
        "PUT",
        "/admin/queues/api/queues/payments/retry/failed",
        { authorization: `Bearer ${admin()}`, origin },
        "",
        proxied.url,
      );
    expect((await retry("https://board.example")).status).toBe(200);
    expect((await retry("http://board.example")).status).toBe(403);
  });
});
