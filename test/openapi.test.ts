import type Router from "@koa/router";
import type Koa from "koa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveWithoutDatabase } from "./support/openapi-app.js";
import { tokenFor } from "./support/tokens.js";

/**
 * /openapi.json and the router describe the same API: every registered route is
 * documented, and every documented operation is registered. The app is built
 * with real clients that this test never needs to reach (no database is opened).
 */
interface Op {
  operationId?: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string }>;
  responses?: Record<string, unknown>;
}
interface Doc {
  paths: Record<string, Record<string, Op>>;
  components: Record<string, Record<string, unknown>>;
}

const HTTP_METHODS = ["get", "post", "put", "patch", "delete"];

let app: Koa;
let url: string;
let doc: Doc;
let stop: () => Promise<void>;

beforeAll(async () => {
  const web = await serveWithoutDatabase("openapi-test");
  ({ app, url, stop } = web);
  const res = await fetch(`${url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Doc;
});
afterAll(async () => {
  await stop?.();
});

/** "METHOD /path/{param}" for every route layer of every @koa/router mounted on the app. */
function registeredOperations(): string[] {
  const ops = new Set<string>();
  for (const mw of app.middleware as Array<{ router?: Router }>) {
    for (const layer of mw.router?.stack ?? []) {
      if (typeof layer.path !== "string")
        throw new Error(`route ${String(layer.path)} is a RegExp: document it by hand`);
      const path = layer.path.replace(/:(\w+)/g, "{$1}");
      // Router.use() layers carry no methods; HEAD is added by the router for every GET.
      for (const m of layer.methods) if (m !== "HEAD") ops.add(`${m} ${path}`);
    }
  }
  return [...ops].sort();
}

function documentedOperations(): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => HTTP_METHODS.includes(k))
        .map((m) => `${m.toUpperCase()} ${path}`),
    )
    .sort();
}

describe("/openapi.json", () => {
  it("is an OpenAPI 3.1 document", () => {
    expect(doc).toMatchObject({ openapi: expect.stringMatching(/^3\.1\./), info: { title: "Coffer" } });
  });

  it("documents every route registered on the app's routers", () => {
    const registered = registeredOperations();
    expect(registered.length).toBeGreaterThan(5);
    expect(registered).toContain("GET /v1/wallet/top-ups/{id}");
    const documented = documentedOperations();
    expect(
      registered.filter((op) => !documented.includes(op)),
      "registered but not documented",
    ).toEqual([]);
  });

  // Middleware mounted outside a router (Bull Board) is invisible to the walk, so those are asked over HTTP.
  it("serves every documented operation", async () => {
    const catchAll = await fetch(`${url}/surely/no/such/route`);
    const catchAllBody = (await catchAll.json()) as { error: { code: string; message: string } };
    expect([catchAll.status, catchAllBody.error.code]).toEqual([404, "not_found"]);

    const registered = registeredOperations();
    const missing: string[] = [];
    for (const op of documentedOperations().filter((o) => !registered.includes(o))) {
      const [method, path] = op.split(" ") as [string, string];
      const res = await fetch(`${url}${path.replace(/\{\w+\}/g, "x")}`, {
        method,
        headers: { authorization: `Bearer ${tokenFor("openapi-admin", { role: "admin" })}` },
      });
      const text = await res.text();
      if (res.status === 405 || (res.status === 404 && text.includes(catchAllBody.error.message)))
        missing.push(op);
    }
    expect(missing, "documented but not served").toEqual([]);
  });

  // Unauthenticated, with Postgres unreachable: each operation still answers with a status it documents.
  it("answers every documented operation with a status it documents", async () => {
    for (const op of documentedOperations()) {
      const [method, path] = op.split(" ") as [string, string];
      const res = await fetch(`${url}${path.replace(/\{\w+\}/g, "x")}`, { method, redirect: "manual" });
      await res.arrayBuffer();
      const documented = Object.keys(doc.paths[path]?.[method.toLowerCase()]?.responses ?? {});
      expect(documented, `${op} answered ${res.status}`).toContain(String(res.status));
    }
  });

  it("gives every operation a unique operationId, its security, and a documented 4xx", () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const what = `${method} ${path}`;
        expect(op.operationId, what).toMatch(/^[a-z][A-Za-z0-9]+$/);
        expect(ids.has(op.operationId!), `${what}: ${op.operationId} twice`).toBe(false);
        ids.add(op.operationId!);
        expect(Array.isArray(op.security), `${what} security`).toBe(true);
        expect(
          Object.keys(op.responses ?? {}).some((s) => s.startsWith("4")),
          `${what} 4xx`,
        ).toBe(true);
      }
    }
    for (const open of ["/webhooks/stripe", "/healthz", "/readyz", "/metrics", "/openapi.json"])
      expect(Object.values(doc.paths[open] ?? {}).map((op) => op.security)).toEqual([[]]);
  });

  it("declares each path parameter and resolves every $ref", () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
        expect(declared.sort(), `${method} ${path}`).toEqual(inPath.sort());
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path} responses`).toBeGreaterThan(0);
      }
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)];
    expect(refs.length).toBeGreaterThan(0);
    for (const [ref, kind, name] of refs) expect(doc.components[kind!]?.[name!], ref).toBeDefined();
  });
});
