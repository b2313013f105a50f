import { producerConnection } from "../../src/queue/redis.js";
import { createStripeBudget } from "../../src/stripe/budget.js";
import { createStripeClient } from "../../src/stripe/client.js";
import { stripeRateLimit } from "../../src/stripe/errors.js";

/**
 * One process of the shared-budget test (test/stripe-budget.test.ts): from START_AT on, COUNT
 * reads against the stand-in through a client whose budget lives in Redis under BUDGET_PREFIX,
 * CONCURRENCY at a time, as a busy worker would. An exhausted budget is waited out and retried, as
 * jobs do; a 429 from Stripe is counted. Prints one JSON line with the counts and exits.
 */
const env = (name: string) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
};
const redis = producerConnection(env("REDIS_URL"));
redis.on("error", () => undefined);
const stripe = createStripeClient({
  secretKey: "sk_test_budget_client",
  apiBase: env("STANDIN_URL"),
  timeoutMs: 10_000,
  budget: createStripeBudget({
    redis,
    maxRps: Number(env("STRIPE_MAX_RPS")),
    keyPrefix: env("BUDGET_PREFIX"),
  }),
});
const counts = { done: 0, exhausted: 0, limited429: 0 };
let left = Number(env("COUNT"));

async function worker(): Promise<void> {
  while (left > 0) {
    left -= 1;
    for (;;) {
      try {
        await stripe.balance.retrieve();
        counts.done += 1;
        break;
      } catch (err) {
        const limited = stripeRateLimit(err);
        if (!limited) throw err;
        if (limited.reason !== "budget") {
          counts.limited429 += 1;
          break;
        }
        counts.exhausted += 1;
        await new Promise((r) => setTimeout(r, limited.retryAfterMs));
      }
    }
  }
}

await new Promise((r) => setTimeout(r, Math.max(0, Number(env("START_AT")) - Date.now())));
await Promise.all(Array.from({ length: Number(env("CONCURRENCY")) }, worker));
process.stdout.write(`${JSON.stringify(counts)}\n`);
redis.disconnect();
