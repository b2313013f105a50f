import type { Config } from "./config.js";
import { createDb, type Db } from "./db/knex.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics.js";
import type { Redis } from "ioredis";
import { producerConnection } from "./queue/redis.js";
import { createStripeBudget, stripeBudgetPrefix } from "./stripe/budget.js";
import { createStripeClient, type Stripe } from "./stripe/client.js";

/** Where the offline stand-in listens unless STRIPE_API_BASE says otherwise. */
export const OFFLINE_STRIPE_API_BASE = "http://127.0.0.1:12111";

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Db;
  stripe: Stripe;
  metrics: Metrics;
  /**
   * A producer-kind connection (fails fast when Redis is away): the Stripe budget counts on it,
   * and the entry points add their jobs through it. Whoever ends the process disconnects it.
   */
  redis: Redis;
  /** The flows' clock; absent, the system clock (tests pass one they can move). */
  now?: () => Date;
}

/** The pieces both entry points build the same way. */
export function createRuntime(config: Config, name: string): Runtime {
  const logger = createLogger(config.LOG_LEVEL, name);
  const apiBase = config.STRIPE_API_BASE ?? (config.stripeOffline ? OFFLINE_STRIPE_API_BASE : undefined);
  if (config.stripeOffline)
    logger.warn(
      { stripe_api_base: apiBase },
      "no STRIPE_SECRET_KEY: running offline against the Stripe stand-in",
    );
  const redis = producerConnection(config.REDIS_URL);
  redis.on("error", (err) => logger.warn({ err: err.message }, "redis connection error"));
  return {
    config,
    logger,
    db: createDb(config.DATABASE_URL),
    stripe: budgetedStripe(config, redis, apiBase),
    metrics: createMetrics({ defaults: true }),
    redis,
  };
}

/**
 * The Stripe client every process uses: each of its requests takes a slot of the one budget in
 * Redis (`STRIPE_MAX_RPS`), shared by every process with the same QUEUE_PREFIX.
 */
export function budgetedStripe(
  config: Pick<Config, "STRIPE_SECRET_KEY" | "STRIPE_TIMEOUT_MS" | "STRIPE_MAX_RPS" | "QUEUE_PREFIX">,
  redis: Redis,
  apiBase: string | undefined,
): Stripe {
  return createStripeClient({
    secretKey: config.STRIPE_SECRET_KEY ?? "sk_test_offline_standin",
    timeoutMs: config.STRIPE_TIMEOUT_MS,
    ...(apiBase !== undefined && { apiBase }),
    budget: createStripeBudget({
      redis,
      maxRps: config.STRIPE_MAX_RPS,
      keyPrefix: stripeBudgetPrefix(config.QUEUE_PREFIX),
    }),
  });
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits; a second signal exits at once. */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, "shutting down");
    stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      });
  };
  process.on("SIGTERM", () => handler("SIGTERM"));
  process.on("SIGINT", () => handler("SIGINT"));
}
