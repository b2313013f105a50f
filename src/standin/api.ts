import type { IncomingHttpHeaders } from "node:http";
import { createContext } from "./context.js";
import type { RequestInfo } from "./context.js";
import { StripeApiError, errorPayload } from "./errors.js";
import { API_VERSION } from "./events.js";
import { applyExpand, toJson } from "./expand.js";
import type { Resolver } from "./expand.js";
import { DEFAULT_DELAY_MS, faultError } from "./faults.js";
import { parseForm } from "./form.js";
import { newId } from "./ids.js";
import { rateLimitError } from "./rate-limits.js";
import type { RateLimitedReason } from "./rate-limits.js";
import { apiRoutes } from "./resources/index.js";
import { refundsOfCharge } from "./resources/refund-flow.js";
import { Router } from "./router.js";
import type { Runtime } from "./runtime.js";
import { PLATFORM } from "./state.js";

export interface ApiRequest {
  method: string;
  path: string;
  query: string;
  body: string;
  headers: IncomingHttpHeaders;
}

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string>;
  /** drop_after fault: the server destroys the socket instead of sending this reply. */
  drop: boolean;
  replayed: boolean;
  /** The API key the request came with, for the request log; "" when it had none. */
  apiKey: string;
  /** When the API layer took the request (ms since the epoch): the time rate limits count. */
  at: number;
  rateLimited?: RateLimitedReason;
}

// Stripe's bounds on an Idempotency-Key.
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const router = new Router(apiRoutes);

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function errorBody(err: StripeApiError): string {
  return JSON.stringify(errorPayload(err), null, 2);
}

/** The API key from Bearer auth (the stripe client) or Basic auth (`curl -u sk_test_…:`). */
function apiKey(headers: IncomingHttpHeaders): string {
  const auth = header(headers, "authorization") ?? "";
  if (auth.startsWith("Bearer ")) return auth.slice("Bearer ".length).trim();
  if (auth.startsWith("Basic ")) {
    return Buffer.from(auth.slice("Basic ".length), "base64").toString("utf8").split(":")[0] ?? "";
  }
  return "";
}

/** Any secret or restricted key is accepted; only a missing or malformed one is refused. */
function authError(key: string): StripeApiError | undefined {
  if (key === "") {
    const message =
      "You did not provide an API key. You need to provide your API key in the Authorization header, " +
      "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').";
    return new StripeApiError(401, { type: "invalid_request_error", message }, false);
  }
  if (!/^(sk|rk)_/.test(key)) {
    const message = `Invalid API Key provided: ${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 8))}`;
    return new StripeApiError(401, { type: "invalid_request_error", message }, false);
  }
  return undefined;
}

/**
 * How `expand` reaches other objects: by id within the request's scope, and for fields Stripe
 * leaves out unless asked (a charge's `refunds`) by building them at the time of the reply.
 */
function resolver(rt: Runtime, scope: string): Resolver {
  return {
    lookup: (id) => {
      const found = rt.store.find(scope, id);
      return found ? toJson(found.object) : undefined;
    },
    include: (object, field) =>
      object.object === "charge" && field === "refunds" && typeof object.id === "string"
        ? toJson(refundsOfCharge(rt.store, scope, object.id))
        : undefined,
  };
}

type Match = ReturnType<Router["match"]>;

function execute(rt: Runtime, req: ApiRequest, match: Match, info: Omit<RequestInfo, "pathParams">) {
  if (!match) {
    const message = `Unrecognized request URL (${req.method}: ${req.path}).`;
    const err = new StripeApiError(404, { type: "invalid_request_error", message }, false);
    return { status: 404, body: errorBody(err), save: false };
  }
  const scope = info.account ?? PLATFORM;
  // Time passed since the last request: card funds whose available_on came are available now.
  rt.funds.settleDue();
  try {
    const result = match.handler(createContext(rt, { ...info, pathParams: match.pathParams }));
    // Expansion happens on the reply only: stored objects and event snapshots keep ids.
    const body = applyExpand(toJson(result), info.params, resolver(rt, scope));
    return { status: 200, body: JSON.stringify(body, null, 2), save: true };
  } catch (err) {
    if (err instanceof StripeApiError)
      return { status: err.status, body: errorBody(err), save: err.saveIdempotent };
    rt.logger.warn({ err: String(err), method: req.method, path: req.path }, "stand-in handler crashed");
    const apiError = new StripeApiError(
      500,
      { type: "api_error", message: "An unknown error occurred" },
      false,
    );
    return { status: 500, body: errorBody(apiError), save: false };
  }
}

/** Stripe refuses a key it could not store, before anything runs; the SDK reports an idempotency error. */
function idempotencyKeyError(key: string): StripeApiError | undefined {
  if (key.length >= 1 && key.length <= MAX_IDEMPOTENCY_KEY_LENGTH) return undefined;
  const message =
    `Idempotent key length is ${key.length} characters long, which is outside accepted lengths. ` +
    `Idempotent Keys must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters long. If you're looking for a ` +
    `decent generator, try using a UUID defined by IETF RFC 4122.`;
  return new StripeApiError(400, { type: "idempotency_error", message }, false);
}

/**
 * One `/v1` request through Stripe's layers in Stripe's order: authentication, the rate limiter,
 * (injected) edge faults, the idempotency layer, then the endpoint. Everything after the faults is synchronous,
 * so two requests with the same key run one after the other and the second replays the first.
 * Only a `delay` fault awaits, and it does so before the idempotency layer, like network latency.
 */
export async function handleApiRequest(rt: Runtime, req: ApiRequest): Promise<Reply> {
  const requestId = newId("req");
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "request-id": requestId,
    "stripe-version": API_VERSION,
  };
  const key = apiKey(req.headers);
  const at = Date.now();
  const reply = (status: number, body: string, extra: Partial<Reply> = {}): Reply => ({
    status,
    body,
    headers,
    drop: false,
    replayed: false,
    apiKey: key,
    at,
    ...extra,
  });

  const denied = authError(key);
  if (denied) return reply(denied.status, errorBody(denied));

  const params = parseForm(req.method === "POST" ? req.body : req.query);
  const account = header(req.headers, "stripe-account");
  const scope = account ?? PLATFORM;
  // Stripe ignores idempotency keys on GET and DELETE: those are idempotent already.
  const idempotencyKey = req.method === "POST" ? header(req.headers, "idempotency-key") : undefined;
  if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
  if (account !== undefined) headers["stripe-account"] = account;

  const match = router.match(req.method, req.path);
  const limited = rt.rateLimits.take(key, `${req.method} ${match?.pattern ?? req.path}`, at);
  if (limited !== undefined) {
    headers["stripe-rate-limited-reason"] = limited;
    return reply(429, errorBody(rateLimitError()), { rateLimited: limited });
  }

  const spec = rt.faults.take(req.method, req.path);
  const fault = spec?.kind;
  if (fault === "delay") {
    await new Promise((resolve) => setTimeout(resolve, spec?.delayMs ?? DEFAULT_DELAY_MS));
  } else if (fault !== undefined && fault !== "drop_after") {
    const err = faultError(fault);
    // An injected 429 stands for the rate limiter, which always names its reason.
    if (fault === "429") headers["stripe-rate-limited-reason"] = "global-rate";
    return reply(err.status, errorBody(err));
  }
  const drop = fault === "drop_after";

  if (idempotencyKey !== undefined) {
    const badKey = idempotencyKeyError(idempotencyKey);
    if (badKey) return reply(badKey.status, errorBody(badKey));
    const begun = rt.idempotency.begin(scope, idempotencyKey, req.method, req.path, params);
    if (begun.kind === "refuse") return reply(begun.error.status, errorBody(begun.error));
    if (begun.kind === "replay") {
      headers["idempotent-replayed"] = "true";
      return reply(begun.response.status, begun.response.body, { drop, replayed: true });
    }
  }
  const result = execute(rt, req, match, { params, account, requestId, idempotencyKey });
  if (idempotencyKey !== undefined) {
    const saved = result.save ? { status: result.status, body: result.body } : undefined;
    rt.idempotency.finish(scope, idempotencyKey, saved);
  }
  return reply(result.status, result.body, { drop });
}
