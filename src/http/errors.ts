import type { Context, Next } from "koa";
import Stripe from "stripe";
import { DomainError } from "../ledger/errors.js";
import { classifyStripeError, rateLimitedError, stripeRateLimit } from "../stripe/errors.js";

/** The single code → HTTP status table. A code not listed is a 500: add it here. */
const STATUS: Readonly<Record<string, number>> = {
  bad_request: 400,
  malformed_json: 400,
  client_aborted: 400, // the client went away mid-body; nobody reads the answer, but it is not a 5xx
  body_timeout: 400, // the body missed its read deadline
  idempotency_key_missing: 400,
  invalid_cursor: 400,
  webhook_signature_missing: 400,
  webhook_signature_invalid: 400,
  webhook_timestamp_stale: 400,
  webhook_malformed: 400,
  webhook_livemode_mismatch: 400,
  connect_link_invalid: 400, // /connect/refresh: a token Coffer did not sign, or altered
  connect_link_expired: 400, // /connect/refresh: a token past its hour
  unsupported_media_type: 400, // SPEC's status list has no 415: a wrong body type is a malformed request
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  insufficient_funds: 409,
  idempotency_request_in_flight: 409,
  payouts_not_enabled: 409,
  withdrawal_not_pending: 409,
  wallet_negative: 409,
  dispute_open: 409,
  connect_account_required: 409,
  bank_managed_by_stripe: 409, // Express: Stripe collects the bank account in onboarding
  event_not_replayable: 409,
  opening_already_recorded: 409,
  currency_not_payable: 409,
  funds_not_settled: 409,
  already_subscribed: 409, // a live subscription to the price exists
  subscription_not_cancelable: 409, // set to cancel at period end already, or ended
  request_timeout: 408, // answered by the HTTP server itself (src/http/server.ts), never by a route
  body_too_large: 413,
  headers_too_large: 431, // likewise
  unknown_field: 422,
  field_required: 422,
  invalid_text: 422, // NUL or a lone surrogate: text Postgres cannot store
  query_param_repeated: 422,
  invalid_field: 422,
  amount_invalid_type: 422,
  amount_not_integer: 422,
  amount_not_positive: 422,
  amount_too_large: 422,
  amount_below_minimum: 422,
  amount_above_maximum: 422,
  amount_below_fee: 422,
  currency_invalid: 422,
  currency_unknown: 422,
  currency_not_supported: 422,
  currency_mismatch: 422,
  idempotency_key_reused: 422,
  reconciliation_window_invalid: 422,
  price_unavailable: 422, // no active plan has this price
  method_not_allowed: 405,
  rate_limited: 429,
  stripe_rejected: 422,
  stripe_error: 502,
  stripe_unavailable: 503,
  stripe_rate_limited: 503,
  not_implemented: 501,
  service_unavailable: 503,
};

/** Every code the API answers with; the OpenAPI document lists them. */
export const ERROR_CODES: readonly string[] = [...Object.keys(STATUS), "internal_error"];

export const statusForCode = (code: string): number => STATUS[code] ?? 500;

export const httpError = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new DomainError(code, message, details);

/** Turns any thrown error into SPEC's error body; unknown errors are logged and hidden. */
export async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
    // The router's own answers (no route, a method the route lacks) get the same envelope.
    if (ctx.body === undefined || ctx.body === null) {
      if (ctx.status === 404) throw httpError("not_found", "no such route");
      if (ctx.status === 405) throw httpError("method_not_allowed", `${ctx.method} is not allowed here`);
      if (ctx.status === 501) throw httpError("not_implemented", `${ctx.method} is not implemented`);
    }
  } catch (caught) {
    const requestId = ctx.state.requestId as string;
    // Our Stripe budget or Stripe itself said "not now": 503 stripe_rate_limited with Retry-After,
    // whether a flow already turned it into that code or let the raw error through.
    const limited = stripeRateLimit(caught);
    const err = limited ? rateLimitedError(limited) : caught;
    if (limited) ctx.state.log?.warn({ reason: limited.reason }, "Stripe call rate limited");
    if (err instanceof DomainError && STATUS[err.code] !== undefined) {
      ctx.status = statusForCode(err.code);
      ctx.body = { error: { code: err.code, message: err.message, request_id: requestId, ...err.details } };
      if (typeof err.details.retry_after_s === "number") {
        ctx.set("Retry-After", String(err.details.retry_after_s));
      }
      return;
    }
    if (err instanceof Stripe.errors.StripeError) {
      // Stripe unreachable or failing is a dependency problem (503/502), never the client's fault.
      const down = classifyStripeError(err) === "transient";
      ctx.state.log?.warn(
        { err: { type: err.type, code: err.code, message: err.message } },
        "Stripe call failed",
      );
      ctx.status = err instanceof Stripe.errors.StripeConnectionError ? 503 : 502;
      const code = ctx.status === 503 ? "stripe_unavailable" : "stripe_error";
      const message = down
        ? "Stripe is unavailable, retry later"
        : `Stripe refused the request: ${err.message}`;
      ctx.body = { error: { code, message, request_id: requestId } };
      return;
    }
    if (isDatabaseDown(err)) {
      ctx.state.log?.error({ err }, "database unavailable");
      ctx.status = 503;
      ctx.body = {
        error: {
          code: "service_unavailable",
          message: "a dependency is unavailable, retry later",
          request_id: requestId,
        },
      };
      return;
    }
    ctx.state.log?.error({ err }, "unhandled error");
    ctx.status = 500;
    ctx.body = { error: { code: "internal_error", message: "internal error", request_id: requestId } };
  }
}

/** Connection-level failures from pg/knex: the database is down or unreachable. */
export function isDatabaseDown(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { code?: string; name?: string; message?: string };
  if (e.name === "KnexTimeoutError") return true;
  if (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "ETIMEDOUT",
      "EPIPE",
      "57P01",
      "57P03",
      "08006",
      "08001",
      "08003",
    ].includes(e.code ?? "")
  )
    return true;
  return /Connection terminated|connect ECONNREFUSED/i.test(e.message ?? "");
}
