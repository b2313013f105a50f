import type Router from "@koa/router";
import type { Context, Middleware } from "koa";
import { z } from "zod";
import { readJsonBody } from "../body.js";
import { requireIdempotencyKey } from "../idempotency.js";
import { limitPerCaller } from "../rate-limit.js";
import { parseInput } from "../validate.js";
import type { ResponseHeader } from "./components.js";

/**
 * One object per route is both its contract and its documentation. HOW TO DOCUMENT A ROUTE:
 *
 *   const getThing = operation({
 *     method: "get", path: "/v1/things/{id}", operationId: "getThing", summary: "One thing",
 *     security: "user",                       // "none" (then `security: []`), "user" or "admin"
 *     query: z.strictObject({ ...pageQuery }), // validated before the handler; likewise `body`
 *     responses: { 200: { description: "The thing", body: Thing } },  // zod schemas, `.meta({ id })` to name
 *     errors: [404],                          // statuses answered with the error envelope
 *   });
 *   route(router, getThing, async (ctx, { params, query }) => { ctx.body = present(…) });
 *   route(router, createThing, limitPerCaller, async (ctx, { body }) => …);  // rate limited: list 429
 *
 * `route` registers the handler after any middleware and validates the query and body with the
 * operation's schemas (`idempotent: true` first requires an Idempotency-Key); /openapi.json is
 * generated from every operation() (src/http/openapi/document.ts). 401/403, and the 400/413/422
 * that any body or query can cause, are added to the document from `security`, `body` and
 * `query`; `legacyAmounts: true` adds `?include=legacy_amounts` and Deprecation/Sunset. A route
 * registered without `route` fails test/openapi.test.ts; an operation no request in
 * test/openapi-conformance.test.ts calls fails there (add a case: it validates the answer).
 */
export type Method = "get" | "post" | "put" | "patch" | "delete";

export interface ResponseDoc {
  description: string;
  /** The JSON body's schema; omitted for a response without a body (304). */
  body?: z.ZodType;
  /** Another media type than JSON: the body is then documented as a string. */
  contentType?: string;
  /** Response headers, from components.RESPONSE_HEADERS; `optional` ones are not on every answer. */
  headers?: readonly ResponseHeader[];
  optionalHeaders?: readonly ResponseHeader[];
}

export interface RequestHeaderDoc {
  required: boolean;
  description: string;
  schema: z.ZodType;
}

export interface Operation {
  method: Method;
  /** OpenAPI's template, `{id}` for a path parameter (registered on the router as `:id`). */
  path: `/${string}`;
  operationId: string;
  summary: string;
  description?: string;
  security: "none" | "user" | "admin";
  /** Path parameters' descriptions; each is a string. */
  params?: Readonly<Record<string, string>>;
  query?: z.ZodObject;
  body?: z.ZodObject;
  /** Documented only: a body the handler reads itself (the webhook's raw bytes), JSON unless said. */
  rawBody?: { description: string; schema: z.ZodType; contentTypes?: readonly string[] };
  headers?: Readonly<Record<string, RequestHeaderDoc>>;
  /** Requires an Idempotency-Key (checked before the body); success may carry Idempotent-Replayed. */
  idempotent?: boolean;
  responses: Readonly<Record<number, ResponseDoc>>;
  errors?: readonly number[];
  /**
   * `?include=legacy_amounts` applies (src/http/legacy-amounts.ts, a middleware on these paths):
   * documents the parameter and the Deprecation and Sunset headers; the response schemas carry
   * the optional decimal fields themselves (present.ts's `legacyDecimal`).
   */
  legacyAmounts?: boolean;
  /** Served outside the routers (Bull Board): documented, never passed to `route`. */
  mounted?: "outside-router";
  /** Another security requirement besides `security` (Bull Board's cookie). */
  alsoCookie?: boolean;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
export interface Input<O extends Operation> {
  params: Record<string, string>;
  query: Out<O["query"]>;
  body: Out<O["body"]>;
  /** The Idempotency-Key of an `idempotent` operation, "" otherwise. */
  idempotencyKey: string;
}
export type Handler<O extends Operation> = (ctx: Context, input: Input<O>) => Promise<void> | void;

const registry = new Map<string, Operation>();
const NO_QUERY = z.strictObject({});

/** Declares an operation; every one declared is in /openapi.json. */
export function operation<const O extends Operation>(op: O): O {
  const key = `${op.method.toUpperCase()} ${op.path}`;
  for (const other of registry.values()) {
    if (other !== op && other.operationId === op.operationId)
      throw new Error(`operationId ${op.operationId} is used twice`);
    if (other !== op && `${other.method.toUpperCase()} ${other.path}` === key)
      throw new Error(`${key} is declared twice`);
  }
  registry.set(op.operationId, op);
  return op;
}

export const operations = (): Operation[] => [...registry.values()];

/** Registers the operation's handler, after `middleware` (a rate limiter), with its input validated. */
export function route<O extends Operation>(
  router: Router,
  op: O,
  ...chain: [...middleware: Middleware[], handler: Handler<O>]
): void {
  if (op.mounted) throw new Error(`${op.operationId} is served outside the routers`);
  const handler = chain.pop() as Handler<O>;
  if (chain.includes(limitPerCaller) && !op.errors?.includes(429))
    throw new Error(`${op.operationId} is rate limited: list 429 in its errors`);
  const koaPath = op.path.replace(/\{(\w+)\}/g, ":$1");
  const run = async (ctx: Context) => {
    // In this order, so a request refused for its key or query reads no body and writes nothing.
    const idempotencyKey = op.idempotent ? requireIdempotencyKey(ctx) : "";
    // With `include` to act on, a misspelt parameter must not pass unnoticed: such a route's query
    // is strict even when it has no parameter of its own (legacy-amounts.ts removed `include`).
    const querySchema = op.query ?? (op.legacyAmounts ? NO_QUERY : undefined);
    const query = querySchema ? parseInput(querySchema, { ...ctx.query }) : undefined;
    const body = op.body ? parseInput(op.body, await readJsonBody(ctx)) : undefined;
    await handler(ctx, {
      params: ctx.params as Record<string, string>,
      query,
      body,
      idempotencyKey,
    } as Input<O>);
  };
  router.register(koaPath, [op.method.toUpperCase()], [...(chain as Middleware[]), run], {
    name: op.operationId,
  });
}
