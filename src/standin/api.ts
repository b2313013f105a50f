import type { IncomingHttpHeaders } from "node:http";
import { createContext } from "./context.js";
import type { RequestInfo } from "./context.js";
import { StripeApiError, errorPayload } from "./errors.js";
import { API_VERSION } from "./events.js";
import { applyExpand, toJson } from "./expand.js";
import { DEFAULT_DELAY_MS, faultError } from "./faults.js";
import { parseForm } from "./form.js";
import { newId } from "./ids.js";
import { apiRoutes } from "./resources/index.js";
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
}

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
function authError(headers: IncomingHttpHeaders): StripeApiError | undefined {
  const key = apiKey(headers);
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

function execute(rt: Runtime, req: ApiRequest, info: Omit<RequestInfo, "pathParams">) {
  const match = router.match(req.method, req.path);
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
    const lookup = (id: string) => {
      const found = rt.store.find(scope, id);
      return found ? toJson(found.object) : undefined;
    };
    // Expansion happens on the reply only: stored objects and event snapshots keep ids.
    const body = applyExpand(toJson(result), info.params, lookup);
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

/**
 * One `/v1` request through Stripe's layers in Stripe's order: authentication, (injected) edge
 * faults, the idempotency layer, then the endpoint. Everything after the faults is synchronous,
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
  const reply = (status: number, body: string, extra: Partial<Reply> = {}): Reply => ({
    status,
    body,
    headers,
    drop: false,
    replayed: false,
    ...extra,
  });

  const denied = authError(req.headers);
  if (denied) return reply(denied.status, errorBody(denied));

  const params = parseForm(req.method === "POST" ? req.body : req.query);
  const account = header(req.headers, "stripe-account");
  const scope = account ?? PLATFORM;
  // Stripe ignores idempotency keys on GET and DELETE: those are idempotent already.
  const idempotencyKey = req.method === "POST" ? header(req.headers, "idempotency-key") : undefined;
  if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
  if (account !== undefined) headers["stripe-account"] = account;

  const spec = rt.faults.take(req.method, req.path);
  const fault = spec?.kind;
  if (fault === "delay") {
    await new Promise((resolve) => setTimeout(resolve, spec?.delayMs ?? DEFAULT_DELAY_MS));
  } else if (fault !== undefined && fault !== "drop_after") {
    const err = faultError(fault);
    return reply(err.status, errorBody(err));
  }
  const drop = fault === "drop_after";

  if (idempotencyKey !== undefined) {
    const begun = rt.idempotency.begin(scope, idempotencyKey, req.method, req.path, params);
    if (begun.kind === "refuse") return reply(begun.error.status, errorBody(begun.error));
    if (begun.kind === "replay") {
      headers["idempotent-replayed"] = "true";
      return reply(begun.response.status, begun.response.body, { drop, replayed: true });
    }
  }
  const result = execute(rt, req, { params, account, requestId, idempotencyKey });
  if (idempotencyKey !== undefined) {
    const saved = result.save ? { status: result.status, body: result.body } : undefined;
    rt.idempotency.finish(scope, idempotencyKey, saved);
  }
  return reply(result.status, result.body, { drop });
}
