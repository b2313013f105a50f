import { StripeApiError } from "./errors.js";

/**
 * Stripe's basic rate limiter (docs.stripe.com/rate-limits): per account and per second, 25
 * requests in a sandbox and 100 in live mode across the whole API, and 25 on each endpoint (one
 * named operation, so `GET /v1/payment_intents/:id` for any id is one endpoint). Over a limit
 * Stripe answers 429 with a `Stripe-Rate-Limited-Reason` header.
 *
 * Where it differs from Stripe, and why:
 * - A sliding window of 1000 ms, not Stripe's token buckets: never more than the limit in any
 *   second, which is at least as strict as a bucket that lets a burst through.
 * - Only `global-rate` and `endpoint-rate`. Stripe also limits concurrency (`global-concurrency`,
 *   `endpoint-concurrency`) and some resources (`resource-specific`); Coffer must treat every
 *   reason alike, so two of them are enough to test that.
 * - The account is the API key. Calls with `Stripe-Account` count against the key that made them,
 *   the platform's: the stricter reading, since a platform's budget is what Coffer controls.
 */
export const RATE_LIMIT_MODES = ["off", "test", "live"] as const;
export type RateLimitMode = (typeof RATE_LIMIT_MODES)[number];

/**
 * What a stand-in enforces unless told otherwise: Stripe's sandbox limits, so every test and
 * benchmark meets them as Coffer will in test mode (its calls share one Redis budget, STRIPE_MAX_RPS).
 */
export const DEFAULT_RATE_LIMITS: RateLimitMode = "test";

/**
 * The key the test harness uses (src/standin/client.ts) when it plays the world outside Coffer's
 * account: the customer, the card network, someone in Stripe's Dashboard. None of that traffic
 * is Coffer's Stripe budget in production, so it is not limited here either; a test that had to
 * pace its own setup would be measuring itself, not Coffer.
 */
export const HARNESS_API_KEY = "sk_test_harness";

export type RateLimitedReason = "endpoint-rate" | "global-rate";

const GLOBAL_PER_S: Record<Exclude<RateLimitMode, "off">, number> = { test: 25, live: 100 };
const ENDPOINT_PER_S = 25;
const WINDOW_MS = 1000;

export function parseRateLimitMode(value: string, name = "rate limits"): RateLimitMode {
  const mode = RATE_LIMIT_MODES.find((m) => m === value);
  if (mode === undefined) throw new Error(`${name} must be one of ${RATE_LIMIT_MODES.join(", ")}`);
  return mode;
}

/** Times of the requests let through in the last second, oldest first. */
class Window {
  readonly #times: number[] = [];

  #prune(now: number): void {
    let drop = 0;
    while (drop < this.#times.length && (this.#times[drop] ?? 0) <= now - WINDOW_MS) drop += 1;
    if (drop > 0) this.#times.splice(0, drop);
  }

  full(now: number, limit: number): boolean {
    this.#prune(now);
    return this.#times.length >= limit;
  }

  add(now: number): void {
    this.#times.push(now);
  }
}

export class RateLimits {
  readonly #windows = new Map<string, Window>();

  constructor(public mode: RateLimitMode) {}

  #window(id: string): Window {
    const found = this.#windows.get(id);
    if (found) return found;
    const created = new Window();
    this.#windows.set(id, created);
    return created;
  }

  /**
   * Counts one request of `key` to `endpoint` ("GET /v1/payment_intents/:id"), or says which
   * limit refused it. A refused request is not counted, as Stripe's limiter does not charge it.
   */
  take(key: string, endpoint: string, now = Date.now()): RateLimitedReason | undefined {
    if (this.mode === "off" || key === HARNESS_API_KEY) return undefined;
    const endpointWindow = this.#window(`${key}\u0000${endpoint}`);
    const globalWindow = this.#window(key);
    if (endpointWindow.full(now, ENDPOINT_PER_S)) return "endpoint-rate";
    if (globalWindow.full(now, GLOBAL_PER_S[this.mode])) return "global-rate";
    endpointWindow.add(now);
    globalWindow.add(now);
    return undefined;
  }
}

/** Stripe's 429 body; the SDK turns the status into StripeRateLimitError. Nothing is saved under a key. */
export function rateLimitError(): StripeApiError {
  return new StripeApiError(
    429,
    {
      type: "invalid_request_error",
      code: "rate_limit",
      message:
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
    },
    false,
  );
}
