import { z } from "zod";
import { ADMIN_COOKIE } from "../bull-board.js";
import { ERROR_CODES, statusForCode } from "../errors.js";

/**
 * The parts of /openapi.json every operation shares: the error envelope, the response headers,
 * the error responses by status and the security schemes. A schema with `.meta({ id })` anywhere
 * becomes `components.schemas.<id>` and is referenced rather than repeated.
 */

/** SPEC's error envelope, as src/http/errors.ts answers it; the optional fields are the codes' details. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z
        .enum(ERROR_CODES as [string, ...string[]])
        .meta({ description: "The code → status table is src/http/errors.ts" }),
      message: z.string(),
      request_id: z.string().meta({ description: "Also the Request-Id header; quote it to support" }),
      param: z
        .string()
        .optional()
        .meta({ description: "The body field, query parameter or token claim that was refused" }),
      fields: z.array(z.string()).optional().meta({ description: "With unknown_field: the fields refused" }),
      supported: z
        .array(z.string())
        .optional()
        .meta({ description: "With currency_not_supported: the wallet currencies" }),
      min_minor: z.int().optional().meta({ description: "With amount_below_minimum" }),
      max_minor: z.int().optional().meta({ description: "With amount_above_maximum" }),
      fee_minor: z.int().optional().meta({ description: "With amount_below_fee: the fee of that amount" }),
      retry_after_s: z.int().min(1).optional().meta({
        description: "With rate_limited and stripe_rate_limited; the Retry-After header says the same",
      }),
      currency: z.string().optional().meta({ description: "With insufficient_funds and funds_not_settled" }),
      status: z.string().optional().meta({ description: "With withdrawal_not_pending: its status now" }),
      withdrawable_minor: z
        .int()
        .optional()
        .meta({ description: "With funds_not_settled: what may be withdrawn now (available − settling)" }),
      settles_at: z.iso.datetime().nullable().optional().meta({
        description:
          "With funds_not_settled: Stripe's date by which enough should have settled; it may have passed when a balance-stream pass has not yet read Stripe's word on it; null while Stripe has not reported when its newest card funds become available",
      }),
    }),
  })
  .meta({ id: "Error", description: "Every refusal and failure: `{error: {code, message, request_id, …}}`" });

/** Response headers an operation may list by name. */
export const RESPONSE_HEADERS = {
  "Request-Id": {
    description: "The request's id (a client's X-Request-Id when it matches ^[A-Za-z0-9_-]{8,64}$)",
    schema: z.string(),
  },
  ETag: { description: "The representation's tag; send it back as If-None-Match", schema: z.string() },
  "Cache-Control": { description: "How the answer may be cached", schema: z.string() },
  "Retry-After": { description: "Seconds to wait before asking again", schema: z.int().min(1) },
  "Set-Cookie": { description: "The cookie this answer sets or clears", schema: z.string() },
  "Idempotent-Replayed": {
    description: "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
    schema: z.literal("true"),
  },
  Deprecation: { description: "The response carries deprecated fields (RFC 9745)", schema: z.string() },
  Sunset: { description: "When the deprecated fields go away (RFC 8594, an HTTP-date)", schema: z.string() },
  Location: {
    description: "Where the redirect leads (absolute, or relative to this server)",
    schema: z.string(),
  },
} as const;
export type ResponseHeader = keyof typeof RESPONSE_HEADERS;

/**
 * Error responses by status: each a named `components.responses` entry with the envelope, the
 * codes of that status, and its headers (`true`: on every such answer).
 */
const ERROR_RESPONSES: Record<number, { name: string; what: string; headers?: [ResponseHeader, boolean][] }> =
  {
    400: { name: "BadRequest", what: "Malformed request" },
    401: { name: "Unauthorized", what: "Bearer token missing, invalid or expired" },
    403: { name: "Forbidden", what: "Not an admin" },
    404: { name: "NotFound", what: "No such object, or not the caller's" },
    409: { name: "Conflict", what: "The object's state does not allow this" },
    413: { name: "PayloadTooLarge", what: "Body too large" },
    422: { name: "Unprocessable", what: "Invalid input" },
    429: { name: "TooManyRequests", what: "Rate limited", headers: [["Retry-After", true]] },
    502: { name: "BadGateway", what: "Stripe refused or failed" },
    503: {
      name: "ServiceUnavailable",
      what: "A dependency is unavailable (Postgres, Stripe, or Coffer's shared Stripe request budget: `stripe_rate_limited`, with Retry-After)",
      headers: [["Retry-After", false]],
    },
  };

export function errorResponse(status: number) {
  const known = ERROR_RESPONSES[status];
  if (!known) throw new Error(`no error response for ${status}: add it to ERROR_RESPONSES`);
  const codes = ERROR_CODES.filter((c) => statusForCode(c) === status);
  return {
    name: known.name,
    description: `${known.what}. Codes: ${codes.map((c) => `\`${c}\``).join(", ")}.`,
    headers: [["Request-Id", true] as [ResponseHeader, boolean], ...(known.headers ?? [])],
  };
}

export const SECURITY_SCHEMES = {
  bearer: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "HS256 with AUTH_JWT_SECRET; `sub` (the user id) and `exp` required, `role=admin` for admins. `sub` must be text Postgres can store (422 invalid_text otherwise); `exp` at most AUTH_MAX_TOKEN_LIFETIME_S away (401 otherwise).",
  },
  adminCookie: {
    type: "apiKey",
    in: "cookie",
    name: ADMIN_COOKIE,
    description:
      "Bull Board only: an admin's bearer token as a cookie, since a browser cannot add the header",
  },
} as const;
