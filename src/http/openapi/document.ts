import { z } from "zod";
import {
  ErrorBody,
  RESPONSE_HEADERS,
  SECURITY_SCHEMES,
  errorResponse,
  type ResponseHeader,
} from "./components.js";
import { LEGACY_INCLUDE } from "../legacy-amounts.js";
import { operations, type Operation, type ResponseDoc } from "./operation.js";
import "./bull-board.js";

/**
 * /openapi.json, generated from the operations (src/http/openapi/operation.ts): their zod schemas
 * become JSON Schema through zod's own z.toJSONSchema, so the document says exactly what the
 * validators take and the presenters give. Built once, on first request, when every route
 * module has declared its operations.
 */
type Json = Record<string, unknown>;

let cached: Json | undefined;
export const openApiDocument = (): Json => (cached ??= build());

function build(): Json {
  const schemas: Record<string, unknown> = {};
  const convert = (schema: z.ZodType, io: "input" | "output") => toSchema(schema, io, schemas);
  const usedErrors = new Map<string, object>();
  const paths: Record<string, Record<string, unknown>> = {};
  // Grouped as TAGS lists the areas, then by path, whatever order the route modules load in.
  const rank = (op: Operation) => TAGS.findIndex((t) => t.name === tagOf(op)) >>> 0;
  const ordered = operations().sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
  for (const op of ordered) {
    paths[op.path] = { ...paths[op.path], [op.method]: operationObject(op, convert, usedErrors) };
  }
  convert(ErrorBody, "output");
  return {
    openapi: "3.1.0",
    info: {
      title: "Coffer",
      version: "0.1.0",
      description:
        "Stripe-backed multi-currency wallets on a double-entry ledger. Amounts are integers of minor units (`*_minor`); currencies are lowercase ISO 4217 codes. Every route may answer 422 `invalid_text` (a NUL or lone surrogate in the path, query, body or token) and `query_param_repeated`, 405 `method_not_allowed` and 501 `not_implemented`.",
      license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
    },
    // Relative: the document describes the server that serves it.
    servers: [{ url: "/", description: "This Coffer web process" }],
    security: [{ bearer: [] }],
    tags: TAGS,
    paths,
    components: {
      securitySchemes: SECURITY_SCHEMES,
      schemas,
      responses: Object.fromEntries(usedErrors),
    },
  };
}

const TAGS = [
  { name: "wallet", description: "The caller's balances, ledger and top-ups" },
  { name: "withdrawals", description: "The caller's withdrawals" },
  { name: "connect", description: "Stripe Connect onboarding and the payout bank account" },
  {
    name: "subscriptions",
    description: "Plans, and the caller's subscriptions (Stripe Billing charges the card)",
  },
  { name: "admin", description: "Admins only (role=admin); every decision is audited" },
  { name: "reconciliation", description: "Finance: reconciliation runs, snapshots, the cut-over" },
  { name: "ops", description: "Webhooks, health, metrics and this document: no bearer token" },
];

function tagOf(op: Operation): string {
  if (op.path.startsWith("/admin/reconciliation")) return "reconciliation";
  if (op.path.startsWith("/admin")) return "admin";
  if (op.path.startsWith("/v1/withdrawals")) return "withdrawals";
  if (op.path.startsWith("/v1/connect") || op.path.startsWith("/v1/bank-accounts")) return "connect";
  if (op.path.startsWith("/v1/wallet")) return "wallet";
  if (op.path.startsWith("/v1/plans") || op.path.startsWith("/v1/subscriptions")) return "subscriptions";
  if (!op.path.startsWith("/v1")) return "ops";
  // A new area under /v1 gets its tag from its first segment; add it to TAGS with a description.
  return op.path.split("/")[2]!;
}

function operationObject(
  op: Operation,
  convert: (s: z.ZodType, io: "input" | "output") => unknown,
  usedErrors: Map<string, object>,
): Json {
  const errors = new Set(op.errors ?? []);
  errors.add(422); // invalid_text and query_param_repeated, on every route
  if (op.security !== "none") errors.add(401);
  if (op.security === "admin") errors.add(403);
  if (op.body || op.idempotent) errors.add(400);
  if (op.body) errors.add(413);
  const responses: Json = {};
  for (const [status, r] of Object.entries(op.responses)) responses[status] = successResponse(r, op, convert);
  for (const status of [...errors].sort()) {
    const { name, description, headers } = errorResponse(status);
    usedErrors.set(name, {
      description,
      headers: Object.fromEntries(headers.map(([h, required]) => header(h, required, convert))),
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    });
    responses[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  const body = op.body ?? op.rawBody?.schema;
  return {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description && { description: op.description }),
    tags: [tagOf(op)],
    security:
      op.security === "none" ? [] : op.alsoCookie ? [{ bearer: [] }, { adminCookie: [] }] : [{ bearer: [] }],
    ...(parameters(op, convert).length > 0 && { parameters: parameters(op, convert) }),
    ...(body && {
      requestBody: {
        ...(op.rawBody && { description: op.rawBody.description }),
        // A JSON route reads an empty body as `{}`: the body is required only if `{}` is refused.
        required: op.rawBody ? true : !body.safeParse({}).success,
        content: Object.fromEntries(
          (op.rawBody?.contentTypes ?? ["application/json"]).map((t) => [
            t,
            { schema: convert(body, "input") },
          ]),
        ),
      },
    }),
    responses,
  };
}

function parameters(op: Operation, convert: (s: z.ZodType, io: "input" | "output") => unknown): Json[] {
  const out: Json[] = [];
  for (const [, name] of op.path.matchAll(/\{(\w+)\}/g)) {
    out.push({
      name,
      in: "path",
      required: true,
      description: op.params?.[name!] ?? "The object's id",
      schema: { type: "string" },
    });
  }
  if (op.query) {
    const required = (toSchema(op.query, "input", {}) as { required?: string[] }).required ?? [];
    for (const [name, field] of Object.entries(op.query.shape)) {
      // The parsed value (a default, a number) is what the parameter means; the wire carries text.
      const schema = convert(field as z.ZodType, "output") as Json;
      const { description, ...rest } = schema;
      out.push({ name, in: "query", required: required.includes(name), description, schema: rest });
    }
  }
  if (op.legacyAmounts) {
    out.push({
      name: "include",
      in: "query",
      required: false,
      deprecated: true,
      description:
        "`legacy_amounts`: add beside each `x_minor` the decimal string `x`, for clients of the legacy API; such answers carry Deprecation and Sunset",
      schema: { type: "string", enum: [LEGACY_INCLUDE] },
    });
  }
  if (op.idempotent) {
    out.push({
      name: "Idempotency-Key",
      in: "header",
      required: true,
      description:
        "1–255 printable ASCII characters, scoped to the caller and the route: the same key with the same body answers the stored response (Idempotent-Replayed: true), with another body 422 idempotency_key_reused, while the first is in flight 409",
      schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7e]+$" },
    });
  }
  for (const [name, h] of Object.entries(op.headers ?? {}))
    out.push({
      name,
      in: "header",
      required: h.required,
      description: h.description,
      schema: convert(h.schema, "input"),
    });
  return out.map((p) => (p.description === undefined ? omit(p, "description") : p));
}

function successResponse(
  r: ResponseDoc,
  op: Operation,
  convert: (s: z.ZodType, io: "input" | "output") => unknown,
): Json {
  const required: ResponseHeader[] = ["Request-Id", ...(r.headers ?? [])];
  const optional: ResponseHeader[] = [
    ...(r.optionalHeaders ?? []),
    ...(op.idempotent ? ["Idempotent-Replayed" as const] : []),
    ...(op.legacyAmounts ? (["Deprecation", "Sunset"] as const) : []),
  ];
  return {
    description: r.description,
    headers: Object.fromEntries([
      ...required.map((h) => header(h, true, convert)),
      ...optional.map((h) => header(h, false, convert)),
    ]),
    ...(r.contentType
      ? { content: { [r.contentType]: { schema: { type: "string" } } } }
      : r.body && { content: { "application/json": { schema: convert(r.body, "output") } } }),
  };
}

/** Inline, not a $ref: whether a header is `required` depends on the response it is on. */
function header(name: ResponseHeader, required: boolean, convert: (s: z.ZodType, io: "output") => unknown) {
  const { description, schema } = RESPONSE_HEADERS[name];
  return [name, { description, required, schema: convert(schema, "output") }] as const;
}

const MAX = Number.MAX_SAFE_INTEGER;

/** zod → JSON Schema 2020-12 (OpenAPI 3.1's dialect); named schemas move to components.schemas. */
function toSchema(schema: z.ZodType, io: "input" | "output", into: Record<string, unknown>): unknown {
  const json = z.toJSONSchema(schema, {
    io,
    target: "draft-2020-12",
    unrepresentable: "throw",
    override: ({ jsonSchema: s }) => {
      // zod spells out its date-time regex and the safe-integer range; `format` and the type say it.
      if (s.format === "date-time") delete s.pattern;
      if (s.type === "integer" && s.minimum === -MAX && s.maximum === MAX) {
        delete s.minimum;
        delete s.maximum;
      }
    },
  }) as Json;
  const { $schema: _dialect, $defs, ...rest } = json;
  for (const [id, def] of Object.entries(($defs ?? {}) as Json)) {
    const text = JSON.stringify(def).replaceAll('"#/$defs/', '"#/components/schemas/');
    if (id in into && JSON.stringify(into[id]) !== text) throw new Error(`two schemas are named ${id}`);
    into[id] = JSON.parse(text) as unknown;
  }
  // A named root comes back as a $ref to its own $defs entry, now a component.
  return JSON.parse(JSON.stringify(rest).replaceAll('"#/$defs/', '"#/components/schemas/')) as unknown;
}

function omit(o: Json, key: string): Json {
  const { [key]: _gone, ...rest } = o;
  return rest;
}
