import Stripe from "stripe";

export interface StripeClientOptions {
  secretKey: string;
  /** A Stripe-compatible base URL (the in-repo stand-in, offline and in tests). */
  apiBase?: string;
  timeoutMs: number;
}

/**
 * The real `stripe` client, pointed at Stripe or at the stand-in through its
 * host, port and protocol options. Network retries stay off: our jobs own
 * retrying. (stripe-node still retries a reset connection once on its own; that
 * is safe because every POST Coffer sends carries an idempotency key.)
 */
export function createStripeClient(o: StripeClientOptions): Stripe {
  const base = o.apiBase ? new URL(o.apiBase) : undefined;
  return new Stripe(o.secretKey, {
    maxNetworkRetries: 0,
    timeout: o.timeoutMs,
    appInfo: { name: "coffer" },
    ...(base && {
      host: base.hostname,
      port: Number(base.port || (base.protocol === "https:" ? 443 : 80)),
      protocol: base.protocol === "https:" ? "https" : "http",
    }),
  });
}

export type { Stripe };
