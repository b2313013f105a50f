/* eslint-disable @typescript-eslint/no-explicit-any -- walks an OpenAPI document */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { tokenFor } from "./tokens.js";

/**
 * Sends real requests by operationId and checks each answer against /openapi.json: the status
 * is one the operation documents, the body validates (ajv, JSON Schema 2020-12) against that
 * response's schema, every header it marks required is there and valid, and no API header
 * (ETag, Retry-After, Idempotent-Replayed, Deprecation, Sunset) comes undocumented.
 */
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const API_HEADERS = ["etag", "retry-after", "idempotent-replayed", "deprecation", "sunset"];

export interface Call {
  params?: Record<string, string>;
  query?: string;
  /** A user's sub, or `admin:<sub>` for an admin token; none: no Authorization header. */
  as?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}
export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

export function conformance(baseUrl: string, doc: any) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  const local = (s: unknown) =>
    JSON.parse(JSON.stringify(s).replaceAll('"#/components/schemas/', '"coffer#/$defs/')) as object;
  ajv.addSchema({ $id: "coffer", $defs: local(doc.components.schemas) });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (key: string, schema: unknown) => {
    let v = compiled.get(key);
    if (!v) compiled.set(key, (v = ajv.compile(local(schema))));
    return v;
  };
  const ops = new Map<string, { method: string; path: string; op: any }>();
  for (const [path, item] of Object.entries<any>(doc.paths))
    for (const [method, op] of Object.entries<any>(item)) ops.set(op.operationId, { method, path, op });
  const answered = new Map<string, Set<number>>();
  const resolve = (r: any) => (r?.$ref ? doc.components.responses[r.$ref.split("/").pop()] : r);

  async function call(operationId: string, c: Call = {}): Promise<Answer> {
    const found = ops.get(operationId);
    if (!found) throw new Error(`${operationId} is not in the document`);
    const path = found.path.replace(/\{(\w+)\}/g, (_m, name: string) =>
      encodeURIComponent(c.params?.[name] ?? "x"),
    );
    const headers: Record<string, string> = { ...c.headers };
    if (c.as) {
      const [role, sub] = c.as.startsWith("admin:") ? ["admin", c.as.slice(6)] : [undefined, c.as];
      headers.authorization = `Bearer ${tokenFor(sub!, role ? { role } : {})}`;
    }
    let body = c.rawBody;
    if (c.body !== undefined) {
      body = JSON.stringify(c.body);
      headers["content-type"] = "application/json";
    }
    const res = await fetch(`${baseUrl}${path}${c.query ? `?${c.query}` : ""}`, {
      method: found.method.toUpperCase(),
      headers,
      redirect: "manual",
      ...(body !== undefined && { body }),
    });
    const text = await res.text();
    const what = `${operationId} ${found.method.toUpperCase()} ${path} → ${res.status} ${text.slice(0, 300)}`;
    const spec = resolve(found.op.responses[String(res.status)]);
    if (!spec) throw new Error(`undocumented status: ${what}`);
    const documented = Object.keys(spec.headers ?? {}).map((h) => h.toLowerCase());
    for (const [name, h] of Object.entries<any>(spec.headers ?? {})) {
      const value = res.headers.get(name);
      if (value === null) {
        if (h.required) throw new Error(`required header ${name} missing: ${what}`);
        continue;
      }
      const asJson = h.schema?.type === "integer" ? Number(value) : value;
      const v = validator(JSON.stringify(h.schema), h.schema);
      if (!v(asJson)) throw new Error(`header ${name}: ${value}: ${ajv.errorsText(v.errors)}: ${what}`);
    }
    for (const h of API_HEADERS)
      if (res.headers.has(h) && !documented.includes(h)) throw new Error(`undocumented header ${h}: ${what}`);
    const type = res.headers.get("content-type") ?? "";
    const media = Object.keys(spec.content ?? {});
    let parsed: any = text;
    if (media.length === 0) {
      // A redirect's "Redirecting to …" text (Koa's) is for a human; the Location header is the answer.
      if (text !== "" && !(res.status >= 300 && res.status < 400))
        throw new Error(`a body where none is documented: ${what}`);
    } else if (!media.some((m) => type.startsWith(m))) {
      throw new Error(`content-type ${type}, documented ${media.join(", ")}: ${what}`);
    } else if (type.startsWith("application/json")) {
      parsed = JSON.parse(text);
      const schema = spec.content["application/json"].schema;
      const v = validator(JSON.stringify(schema), schema);
      if (!v(parsed)) throw new Error(`body does not match: ${ajv.errorsText(v.errors)}: ${what}`);
    }
    if (!answered.has(operationId)) answered.set(operationId, new Set());
    answered.get(operationId)!.add(res.status);
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** Calls and expects one status. */
  async function expectStatus(status: number, operationId: string, c: Call = {}): Promise<Answer> {
    const a = await call(operationId, c);
    if (a.status !== status)
      throw new Error(`${operationId}: expected ${status}, got ${a.status} ${JSON.stringify(a.body)}`);
    return a;
  }

  return { ops, answered, call, expectStatus };
}
