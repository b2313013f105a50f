import type { RedisConnection } from "../queue/redis.js";
import type Stripe from "stripe";
import type { Config } from "../config.js";
import type { Db } from "../db/knex.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { Queues } from "../queue/queues.js";

/** Everything the web process talks to, passed into createApp so tests wire real instances. */
export interface AppDeps {
  config: Config;
  db: Db;
  queues: Queues;
  /** The producer's Redis connection, for /readyz. */
  redisPing: () => Promise<unknown>;
  /**
   * The producer's connection, where the rate limits count (src/http/rate-limit.ts). Absent,
   * each process counts its own, which only a test that does not look at limits should accept.
   */
  redis?: RedisConnection;
  stripe: Stripe;
  logger: Logger;
  metrics: Metrics;
}
