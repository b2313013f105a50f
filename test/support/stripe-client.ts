import Stripe from "stripe";

/** The real stripe SDK pointed at a stand-in, as Coffer points it (no SDK retries). */
export function stripeFor(s: { host: string; port: number }): Stripe {
  return new Stripe("sk_test_standin", {
    host: s.host,
    port: s.port,
    protocol: "http",
    maxNetworkRetries: 0,
  });
}

/** The error a Stripe call fails with; fails the test if the call succeeds. */
export async function stripeFailure(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) return err;
    throw err;
  }
  throw new Error("expected the Stripe call to fail");
}

/** A stand-in control call (Stripe's side of a lifecycle): status and JSON body. */
export async function standinControl<T = Record<string, unknown>>(
  standinUrl: string,
  path: string,
  body?: unknown,
  method = "POST",
) {
  const res = await fetch(`${standinUrl}/_standin${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** A seeded PRNG (mulberry32), so a failing random order can be replayed from its seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
