import Stripe from "stripe";
import { controlCall, standinStripe } from "../../src/standin/client.js";

/** The shared stand-in client (src/standin/client.ts), under the names the tests use. */
export { standinStripe as stripeFor, controlCall as standinControl };

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
