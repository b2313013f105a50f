import Stripe from "stripe";
import { DomainError } from "../ledger/errors.js";
import { StripeBudgetExhausted } from "./budget.js";

export type StripeFailure = "missing" | "transient" | "invalid" | "idempotency";

/**
 * How a Stripe error steers a job. Backoff is only for what may heal by
 * itself: network failures, 429 and 5xx. `resource_missing` means the object
 * does not exist, so the event fails terminally; other 4xx are our mistake.
 * (Rate limits are transient here too; callers that can wait without spending
 * an attempt ask stripeRateLimit first.)
 */
export function classifyStripeError(err: unknown): StripeFailure | null {
  if (!(err instanceof Stripe.errors.StripeError)) return null;
  if (err instanceof Stripe.errors.StripeConnectionError || err instanceof Stripe.errors.StripeAPIError)
    return "transient";
  if (err instanceof Stripe.errors.StripeRateLimitError) return "transient";
  if (err instanceof Stripe.errors.StripeIdempotencyError) return "idempotency";
  // A bad or rotated key (401/403) is our configuration, not the event: retry until it is fixed.
  if (err instanceof Stripe.errors.StripeAuthenticationError) return "transient";
  const status = err.statusCode ?? 0;
  if (status === 0 || status === 429 || status >= 500) return "transient";
  if (err.code === "resource_missing") return "missing";
  return "invalid";
}

export interface RateLimited {
  /** When to come back: the budget's hint, Stripe's Retry-After, or a second. */
  retryAfterMs: number;
  /** `budget` (ours, nothing was sent), or Stripe's `Stripe-Rate-Limited-Reason`, or `429`. */
  reason: string;
}

const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * A rate limit rather than a failure: our own budget had no slot (the request was never sent),
 * or Stripe answered 429 or named a `Stripe-Rate-Limited-Reason` (Stripe refused it before acting,
 * so a retry under the same idempotency key is safe). Looks through `cause` for wrapped errors.
 */
export function stripeRateLimit(err: unknown): RateLimited | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof StripeBudgetExhausted) return { retryAfterMs: e.retryAfterMs, reason: "budget" };
    if (!(e instanceof Stripe.errors.StripeError)) continue;
    if (e.detail instanceof StripeBudgetExhausted)
      return { retryAfterMs: e.detail.retryAfterMs, reason: "budget" };
    const reason = header(e, "stripe-rate-limited-reason");
    if (e.statusCode === 429 || e instanceof Stripe.errors.StripeRateLimitError || reason !== undefined) {
      const after = Number(header(e, "retry-after"));
      const retryAfterMs = Number.isFinite(after) && after > 0 ? after * 1000 : DEFAULT_RETRY_AFTER_MS;
      return { retryAfterMs, reason: reason ?? "429" };
    }
  }
  return null;
}

/** What the web answers for a rate limit: 503 `stripe_rate_limited` with Retry-After (src/http/errors.ts). */
export function rateLimitedError(limited: RateLimited): DomainError {
  const who = limited.reason === "budget" ? "Coffer's shared Stripe request budget is" : "Stripe is";
  return new DomainError(
    "stripe_rate_limited",
    `${who} rate limiting requests; retry later`,
    { retry_after_s: Math.max(1, Math.ceil(limited.retryAfterMs / 1000)) },
    false,
  );
}

function header(err: Stripe.errors.StripeError, name: string): string | undefined {
  const v = (err.headers as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) return typeof v[0] === "string" ? v[0] : undefined;
  return typeof v === "string" ? v : undefined;
}
