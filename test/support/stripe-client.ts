import Stripe from "stripe";
import { controlCall, rng, standinStripe } from "../../src/standin/client.js";

/** The shared stand-in client (src/standin/client.ts), under the names the tests use. */
export { standinStripe as stripeFor, controlCall as standinControl, rng };

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
