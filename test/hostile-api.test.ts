/* eslint-disable @typescript-eslint/no-explicit-any -- walks an OpenAPI document of unknown shape */
import { randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWeb, type WebUnderTest } from "./support/hostile-system.js";
import { JWT_SECRET, tokenFor } from "./support/tokens.js";

/**
 * The hostile-input probe of issue 11 as a suite: it walks the running web's own
 * /openapi.json and, for every operation, sends each bad value to each path parameter,
 * query parameter and body field, with a valid token of the kind the route needs. No
 * answer may be a 5xx, every refusal is SPEC's JSON error envelope, and the database is
 * byte-for-byte unchanged. A route added to the document is probed without editing this.
 */
let web: WebUnderTest;
let doc: any;
const USER = "hostile-probe-user";
const ADMIN = "hostile-probe-admin";

beforeAll(async () => {
  web = await startWeb();
  doc = await (await fetch(`${web.url}/openapi.json`)).json();
  // Provision the probing user first, so its row is part of the "before" state.
  await fetch(`${web.url}/v1/wallet`, { headers: { authorization: `Bearer ${tokenFor(USER)}` } });
});
afterAll(async () => {
  await web?.stop();
});

/** Every table's rows, hashed: a bad request may write nothing anywhere. */
async function checksum(): Promise<Record<string, string>> {
  const { rows } = await web.tdb.db.raw<{ rows: Array<{ tablename: string }> }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`,
  );
  const out: Record<string, string> = {};
  for (const { tablename } of rows) {
    const r = await web.tdb.db.raw<{ rows: Array<{ n: string; h: string | null }> }>(
      `SELECT count(*) AS n, md5(string_agg(t::text, ',' ORDER BY t::text)) AS h FROM ?? t`,
      [tablename],
    );
    out[tablename] = `${r.rows[0]!.n}:${r.rows[0]!.h ?? ""}`;
  }
  return out;
}

const BIG = "x".repeat(10 * 1024);
/** As they go into a URL (already encoded): NUL, a lone surrogate in WTF-8, invalid UTF-8, 10 KB… */
const URL_VALUES: Array<[string, string]> = [
  ["NUL", "a%00b"],
  ["lone high surrogate (WTF-8)", "%ED%A0%80"],
  ["lone low surrogate (WTF-8)", "x%ED%B0%80y"],
  ["invalid UTF-8", "%FF%FE"],
  ["U+FFFD", "%EF%BF%BD"],
  ["10 KB", BIG],
  ["__proto__", "__proto__"],
  ["constructor", "constructor"],
  ["huge number", "1" + "0".repeat(400)],
  ["negative", "-1"],
  ["float", "1e308"],
  ["dot segments", "..%2F..%2Fadmin"],
];
/** As JSON values in a body field. */
const JSON_VALUES: Array<[string, string]> = [
  ["NUL", '"a\\u0000b"'],
  ["lone high surrogate", '"\\ud800"'],
  ["lone low surrogate", '"x\\udc00y"'],
  ["10 KB string", JSON.stringify(BIG)],
  ["array where a scalar belongs", '["usd","eur"]'],
  ["object", '{"__proto__":{"admin":true}}'],
  ["__proto__ string", '"__proto__"'],
  ["huge number", "1e400"],
  ["2^64", "18446744073709551616"],
  ["negative huge", "-1e308"],
  ["fraction", "0.5"],
  ["null", "null"],
  ["boolean", "true"],
];
/** Whole bodies that no route takes. */
const BODIES: Array<[string, string]> = [
  ["__proto__ key", '{"__proto__":{"role":"admin"}}'],
  ["NUL in a key", '{"a\\u0000":1}'],
  ["lone surrogate in a key", '{"\\udfff":1}'],
  ["constructor key", '{"constructor":{"prototype":{"x":1}}}'],
  ["an array", "[1,2,3]"],
  ["deep nesting", "[".repeat(5000) + "]".repeat(5000)],
];

interface Op {
  method: string;
  template: string;
  params: Array<{ name: string; in: string; schema?: any }>;
  bodyProps: Record<string, any>;
  hasBody: boolean;
  auth: "user" | "admin" | "none";
}

function operations(): Op[] {
  const ops: Op[] = [];
  for (const [template, methods] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(methods)) {
      if (template.startsWith("/admin/queues")) continue; // Bull Board's HTML UI, probed elsewhere
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      ops.push({
        method: method.toUpperCase(),
        template,
        params: op.parameters ?? [],
        bodyProps: schema?.properties ?? {},
        hasBody: method !== "get",
        auth: !op.security?.length ? "none" : template.startsWith("/admin") ? "admin" : "user",
      });
    }
  }
  return ops;
}

/** A value that passes the field's own schema, so each request has exactly one bad slot. */
function validJson(schema: any): unknown {
  if (schema?.enum) return schema.enum[0];
  if (schema?.type === "integer") return 1000;
  if (schema?.pattern === "^[a-z]{3}$") return "usd";
  if (schema?.format === "date-time") return new Date(Date.now() - 86_400_000).toISOString();
  return "probe";
}

function headersFor(op: Op, token?: string): Record<string, string> {
  const h: Record<string, string> = {};
  const t = token ?? (op.auth === "admin" ? tokenFor(ADMIN, { role: "admin" }) : tokenFor(USER));
  if (op.auth !== "none") h.authorization = `Bearer ${t}`;
  for (const p of op.params)
    if (p.in === "header") h[p.name] = p.name === "Idempotency-Key" ? randomUUID() : "probe";
  return h;
}

const pathWith = (op: Op, values: Record<string, string>) =>
  op.template.replace(/\{([^}]+)\}/g, (_m, name: string) => values[name] ?? "probe");

function validBodyText(op: Op, override?: [string, string]): string {
  const parts = Object.entries(op.bodyProps).map(([k, s]) =>
    override && override[0] === k
      ? `${JSON.stringify(k)}:${override[1]}`
      : `${JSON.stringify(k)}:${JSON.stringify(validJson(s))}`,
  );
  return `{${parts.join(",")}}`;
}

interface Probe {
  what: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function probes(): Probe[] {
  const out: Probe[] = [];
  for (const op of operations()) {
    const base = (over: Partial<Probe> & { what: string }): Probe => ({
      method: op.method,
      path: pathWith(op, {}),
      headers: { ...headersFor(op), ...(op.hasBody && { "content-type": "application/json" }) },
      ...(op.hasBody && { body: validBodyText(op) }),
      ...over,
    });
    const label = `${op.method} ${op.template}`;
    for (const p of op.params.filter((x) => x.in === "path"))
      for (const [name, v] of URL_VALUES)
        out.push(base({ what: `${label} path ${p.name}=${name}`, path: pathWith(op, { [p.name]: v }) }));
    const queries = op.params.filter((x) => x.in === "query");
    for (const p of queries) {
      for (const [name, v] of URL_VALUES)
        out.push(base({ what: `${label} ?${p.name}=${name}`, path: `${pathWith(op, {})}?${p.name}=${v}` }));
      out.push(
        base({ what: `${label} ?${p.name} repeated`, path: `${pathWith(op, {})}?${p.name}=1&${p.name}=2` }),
      );
      out.push(base({ what: `${label} ?${p.name}[]`, path: `${pathWith(op, {})}?${p.name}[]=1` }));
    }
    // A prototype key in the query string (reads only: a POST ignores its query string, so there
    // it would be a valid request), and a NUL in a parameter's name (refused everywhere).
    if (op.method === "GET")
      out.push(base({ what: `${label} ?__proto__`, path: `${pathWith(op, {})}?__proto__=x` }));
    out.push(base({ what: `${label} ?NUL name`, path: `${pathWith(op, {})}?a%00=1` }));
    for (const field of Object.keys(op.bodyProps))
      for (const [name, v] of JSON_VALUES)
        out.push(base({ what: `${label} body ${field}=${name}`, body: validBodyText(op, [field, v]) }));
    if (op.hasBody)
      for (const [name, b] of BODIES) out.push(base({ what: `${label} body ${name}`, body: b }));
    if (op.auth !== "none") {
      const role = op.auth === "admin" ? { role: "admin" } : {};
      const claims: Array<[string, object]> = [
        ["sub with NUL", { sub: "a\u0000b", exp: Math.floor(Date.now() / 1000) + 60, ...role }],
        ["lone-surrogate sub", { sub: "\ud800", exp: Math.floor(Date.now() / 1000) + 60, ...role }],
        ["lone low-surrogate sub", { sub: "\udc00", exp: Math.floor(Date.now() / 1000) + 60, ...role }],
        ["exp 1e300", { sub: "hostile-forever", exp: 1e300, ...role }],
        [
          "exp a year away",
          { sub: "hostile-year", exp: Math.floor(Date.now() / 1000) + 366 * 86_400, ...role },
        ],
        ["10 KB sub", { sub: BIG, exp: Math.floor(Date.now() / 1000) + 60, ...role }],
        ["array sub", { sub: ["a", "b"], exp: Math.floor(Date.now() / 1000) + 60, ...role }],
      ];
      for (const [name, c] of claims) {
        const token = jwt.sign(c, JWT_SECRET, { algorithm: "HS256" });
        out.push(
          base({
            what: `${label} token ${name}`,
            headers: { ...base({ what: "" }).headers, authorization: `Bearer ${token}` },
          }),
        );
      }
    }
    for (const h of op.params.filter((x) => x.in === "header" && x.name === "Idempotency-Key"))
      for (const [name, v] of [
        ["10 KB", BIG],
        ["space", "a b"],
        ["latin-1", "caf\u00e9"],
      ] as const)
        out.push(
          base({
            what: `${label} ${h.name} ${name}`,
            headers: { ...headersFor(op), "content-type": "application/json", [h.name]: v },
          }),
        );
  }
  return out;
}

async function send(p: Probe) {
  const res = await fetch(`${web.url}${p.path}`, {
    method: p.method,
    headers: p.headers,
    ...(p.body !== undefined && { body: p.body }),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type") ?? "", text };
}

describe("every documented operation, probed with hostile input", () => {
  it("covers the whole document", () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(25);
    expect(ops.map((o) => `${o.method} ${o.template}`)).toContain("POST /admin/withdrawals/{id}/reject");
  });

  it("answers no 5xx, refuses with the JSON error envelope, and writes nothing", async () => {
    const before = await checksum();
    const failures: string[] = [];
    const all = probes();
    expect(all.length).toBeGreaterThan(500);
    for (let i = 0; i < all.length; i += 8) {
      await Promise.all(
        all.slice(i, i + 8).map(async (p) => {
          const r = await send(p);
          if (r.status >= 500) failures.push(`${p.what} → ${r.status} ${r.text.slice(0, 200)}`);
          // Every probe of a state-changing route carries one bad value: none may be taken.
          else if (p.method !== "GET" && r.status < 400)
            failures.push(`${p.what} → ${r.status} accepted: ${r.text.slice(0, 200)}`);
          else if (r.status >= 400) {
            let code: unknown;
            try {
              code = (JSON.parse(r.text) as { error?: { code?: unknown } }).error?.code;
            } catch {
              code = undefined;
            }
            if (typeof code !== "string" || !r.type.startsWith("application/json"))
              failures.push(`${p.what} → ${r.status} without a JSON error code: ${r.text.slice(0, 200)}`);
          }
        }),
      );
    }
    expect(failures).toEqual([]);
    expect(await checksum()).toEqual(before);
    const check = await fetch(`${web.url}/admin/ledger/check`, {
      headers: { authorization: `Bearer ${tokenFor(ADMIN, { role: "admin" })}` },
    });
    expect(check.status).toBe(200);
  }, 120_000);
});

describe("headers and edges the walk does not reach", () => {
  it("replaces an X-Request-Id that does not match the strict pattern, keeps one that does", async () => {
    const bad = await fetch(`${web.url}/healthz`, { headers: { "x-request-id": "evil id\twith tab" } });
    expect(bad.headers.get("request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    const good = await fetch(`${web.url}/healthz`, { headers: { "x-request-id": "abc_DEF-12345678" } });
    expect(good.headers.get("request-id")).toBe("abc_DEF-12345678");
  });

  it("logs one access line per request at info, with the route template and never the raw path", async () => {
    const res = await fetch(`${web.url}/v1/withdrawals/a%00${"y".repeat(100)}`, {
      headers: { authorization: `Bearer ${tokenFor(USER)}` },
    });
    expect(res.status).toBe(422);
    const id = res.headers.get("request-id");
    const lines = web.lines.filter((l) => l.request_id === id && l.msg === "request");
    expect(lines).toEqual([expect.objectContaining({ level: 30, status: 422, method: "GET" })]);
    expect(JSON.stringify(lines)).not.toContain("yyyy");
  });

  it("names the caller in every authenticated access line as user_id (users, admins, a refused non-admin, the board), never an anonymous one", async () => {
    const accessLine = async (path: string, token?: string) => {
      const res = await fetch(`${web.url}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 50)); // the line is written after the answer
      const id = res.headers.get("request-id");
      const lines = web.lines.filter((l) => l.request_id === id && l.msg === "request");
      expect(lines).toHaveLength(1);
      return { status: res.status, line: lines[0]! };
    };
    const admin = tokenFor(ADMIN, { role: "admin" });
    expect(await accessLine("/v1/wallet", tokenFor(USER))).toMatchObject({
      status: 200,
      line: { route: "/v1/wallet", user_id: USER },
    });
    expect(await accessLine("/admin/ledger/check", admin)).toMatchObject({
      status: 200,
      line: { route: "/admin/ledger/check", user_id: ADMIN },
    });
    expect(await accessLine("/admin/ledger/check", tokenFor(USER))).toMatchObject({
      status: 403,
      line: { route: "/admin/ledger/check", user_id: USER },
    });
    expect(await accessLine("/admin/queues/api/queues", admin)).toMatchObject({
      status: 200,
      line: { route: "/admin/queues", user_id: ADMIN },
    });
    expect(await accessLine("/admin/queues/api/queues", tokenFor(USER))).toMatchObject({
      status: 403,
      line: { route: "/admin/queues", user_id: USER },
    });
    for (const [path, token] of [
      ["/v1/wallet", undefined],
      ["/v1/wallet", "not-a-jwt"],
      ["/admin/ledger/check", jwt.sign({ sub: ADMIN, role: "admin", exp: 1 }, JWT_SECRET)],
      ["/healthz", undefined],
    ] as const) {
      const { status, line } = await accessLine(path, token);
      expect([200, 401]).toContain(status);
      expect(line).not.toHaveProperty("user_id");
    }
  });

  it("gives a request that logged nothing else (no child logger made) its access line with the id", async () => {
    const res = await fetch(`${web.url}/healthz`, { headers: { "x-request-id": "quiet_request_0001" } });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 200)); // the line is written after the answer
    const lines = web.lines.filter((l) => l.request_id === "quiet_request_0001");
    expect(lines).toEqual([
      expect.objectContaining({ level: 30, msg: "request", route: "/healthz", status: 200, method: "GET" }),
    ]);
  });

  it("answers 405 with the JSON envelope and the Allow header", async () => {
    const res = await fetch(`${web.url}/v1/withdrawals`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${tokenFor(USER)}` },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toMatch(/GET/);
    expect(((await res.json()) as any).error.code).toBe("method_not_allowed");
  });

  it("answers 501 with the JSON envelope for a method Koa does not know", async () => {
    const res = await fetch(`${web.url}/healthz`, { method: "PROPFIND" });
    expect(res.status).toBe(501);
    expect(((await res.json()) as any).error.code).toBe("not_implemented");
  });

  it("answers 404 for nobody's wallet and ledger", async () => {
    for (const view of ["wallet", "ledger"]) {
      const res = await fetch(`${web.url}/admin/users/nobody-${randomUUID()}/${view}`, {
        headers: { authorization: `Bearer ${tokenFor(ADMIN, { role: "admin" })}` },
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.code).toBe("not_found");
    }
    const known = await fetch(`${web.url}/admin/users/${USER}/wallet`, {
      headers: { authorization: `Bearer ${tokenFor(ADMIN, { role: "admin" })}` },
    });
    expect(known.status).toBe(200);
  });

  it("puts security headers on every answer, a CSP and X-Frame-Options on Bull Board's page", async () => {
    for (const path of ["/healthz", "/v1/wallet", "/no-such-route"]) {
      const res = await fetch(`${web.url}${path}`);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    }
    const board = await fetch(`${web.url}/admin/queues`, {
      headers: { authorization: `Bearer ${tokenFor(ADMIN, { role: "admin" })}` },
    });
    expect(board.status).toBe(200);
    expect(board.headers.get("content-type")).toMatch(/text\/html/);
    expect(board.headers.get("x-frame-options")).toBe("DENY");
    expect(board.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
    expect(board.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("takes a token that lives a day at most, and no longer (AUTH_MAX_TOKEN_LIFETIME_S)", async () => {
    const ok = await fetch(`${web.url}/v1/wallet`, {
      headers: { authorization: `Bearer ${tokenFor(USER, { expiresInS: 86_000 })}` },
    });
    expect(ok.status).toBe(200);
    const long = await fetch(`${web.url}/v1/wallet`, {
      headers: { authorization: `Bearer ${tokenFor(USER, { expiresInS: 86_500 })}` },
    });
    expect(long.status).toBe(401);
  });
});
