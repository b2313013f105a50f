import Stripe from "stripe";

export type StripeFailure = "missing" | "transient" | "invalid" | "idempotency";

/**
 * How a Stripe error steers a job. Backoff is only for what may heal by
 * itself: network failures, 429 and 5xx. `resource_missing` means the object
 * does not exist, so the event fails terminally; other 4xx are our mistake.
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
