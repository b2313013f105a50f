import Stripe from "stripe";
import type { StripeBudget } from "./budget.js";

export interface StripeClientOptions {
  secretKey: string;
  /** A Stripe-compatible base URL (the in-repo stand-in, offline and in tests). */
  apiBase?: string;
  timeoutMs: number;
  /**
   * The shared request budget every request takes a slot from. The entry points always pass one
   * (src/runtime.ts); only tests that never reach Stripe, or test Stripe itself, go without.
   */
  budget?: StripeBudget;
}

/**
 * The real `stripe` client, pointed at Stripe or at the stand-in through its
 * host, port and protocol options. Network retries stay off: our jobs own
 * retrying. (stripe-node still retries a reset connection once on its own; that
 * is safe because every POST Coffer sends carries an idempotency key, and the
 * retry takes its own slot of the budget.)
 */
export function createStripeClient(o: StripeClientOptions): Stripe {
  const base = o.apiBase ? new URL(o.apiBase) : undefined;
  return new Stripe(o.secretKey, {
    maxNetworkRetries: 0,
    timeout: o.timeoutMs,
    appInfo: { name: "coffer" },
    ...(o.budget && { httpClient: new BudgetedHttpClient(Stripe.createNodeHttpClient(), o.budget) }),
    ...(base && {
      host: base.hostname,
      port: Number(base.port || (base.protocol === "https:" ? 443 : 80)),
      protocol: base.protocol === "https:" ? "https" : "http",
    }),
  });
}

/**
 * The one place every HTTP request to Stripe passes, whatever resource sent it: a slot from the
 * budget first, then stripe-node's own Node client. An exhausted budget surfaces from the SDK as a
 * StripeConnectionError whose `detail` is the StripeBudgetExhausted (stripeRateLimit finds it):
 * nothing was sent.
 */
class BudgetedHttpClient implements Stripe.HttpClient {
  constructor(
    private readonly inner: Stripe.HttpClient,
    private readonly budget: StripeBudget,
  ) {}

  getClientName(): string {
    return this.inner.getClientName();
  }

  async makeRequest(
    ...args: Parameters<Stripe.HttpClient["makeRequest"]>
  ): Promise<Stripe.HttpClientResponse> {
    await this.budget.take();
    return this.inner.makeRequest(...args);
  }
}

export type { Stripe };
