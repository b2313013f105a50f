import type { Config } from "./config.js";
import { createDb, type Db } from "./db/knex.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, type Metrics, type MetricsRole } from "./metrics.js";
import type { RedisConnection } from "./queue/redis.js";
import { producerConnection } from "./queue/redis.js";
import { createStripeBudget, stripeBudgetPrefix } from "./stripe/budget.js";
import { createStripeClient, type Stripe } from "./stripe/client.js";

import { OFFLINE_STRIPE_API_BASE } from "./offline.js";

export { OFFLINE_STRIPE_API_BASE };

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
  redis: RedisConnection;
  /** The flows' clock; absent, the system clock (tests pass one they can move). */
  now?: () => Date;
}

/**
 * The pieces both entry points build the same way. `role` says whose metrics the process
 * exports (the web's or a worker's; a script serves none, so `all` costs nothing).
 */
export function createRuntime(config: Config, name: string, role: MetricsRole = "all"): Runtime {
  const logger = createLogger(config.LOG_LEVEL, name);
  const apiBase = config.STRIPE_API_BASE ?? (config.stripeOffline ? OFFLINE_STRIPE_API_BASE : undefined);
  if (config.stripeOffline)
    logger.warn(
      { stripe_api_base: apiBase },
      "no STRIPE_SECRET_KEY: running offline against the Stripe stand-in",
    );
  const redis = producerConnection(config);
  redis.on("error", (err) => logger.warn({ err: err.message }, "redis connection error"));
  return {
    config,
    logger,
    db: createDb(config.DATABASE_URL),
    stripe: budgetedStripe(config, redis, apiBase),
    metrics: createMetrics({ defaults: true, role }),
    redis,
  };
}

/**
 * The Stripe client every process uses: each of its requests takes a slot of the one budget in
 * Redis (`STRIPE_MAX_RPS`), shared by every process with the same QUEUE_PREFIX.
 */
export function budgetedStripe(
  config: Pick<Config, "STRIPE_SECRET_KEY" | "STRIPE_TIMEOUT_MS" | "STRIPE_MAX_RPS" | "QUEUE_PREFIX">,
  redis: RedisConnection,
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
