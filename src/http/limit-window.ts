import { createHash } from "node:crypto";
import type { RedisConnection } from "../queue/redis.js";
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import type { Logger } from "../logger.js";

/**
 * Terminology:
 * - a window: one minute of one key's count, kept in Redis (rate-limiter-flexible's fixed
 *   window: it starts at the key's first request and ends 60 s later).
 *
 * Counts live in Redis under QUEUE_PREFIX, so every web process of a deployment shares them: N
 * processes allow the limit, not N× it. While Redis is away (not connected, or a command times
 * out) each process counts in its own memory instead (the insurance limiter), so a limit then
 * holds per process. That is deliberate: a top-up needs Postgres and Stripe, not Redis, and a
 * withdrawal's job is enqueued by the sweeper later, so a Redis outage must not close the money
 * routes, only loosen their limit.
 */
export interface RateLimitDeps {
  /** A fail-fast connection (the producer kind); absent, every window is per process. */
  redis?: RedisConnection;
  config: { RATE_LIMIT_PER_MINUTE: number; WEBHOOK_REFUSALS_PER_MINUTE: number; QUEUE_PREFIX: string };
  logger: Logger;
}

export const WINDOW_S = 60;

/** A minute window shared through Redis, with a per-process one to fall back on. */
export function sharedWindow(
  redis: RedisConnection | undefined,
  keyPrefix: string,
  points: number,
): RateLimiterAbstract {
  const insurance = new RateLimiterMemory({ keyPrefix, points, duration: WINDOW_S });
  if (!redis) return insurance;
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points,
    duration: WINDOW_S,
    // A disconnected client answers from memory at once instead of waiting for a timeout.
    rejectIfRedisNotReady: true,
    insuranceLimiter: insurance,
  });
}

/** Counts one request against `key`: 0 when it may pass, else the seconds until the window ends. */
export async function take(limiter: RateLimiterAbstract, key: string): Promise<number> {
  try {
    await limiter.consume(key);
    return 0;
  } catch (res) {
    if (res instanceof RateLimiterRes) return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    throw res;
  }
}

/** Ids are opaque and may be long (up to 255 characters): keys carry a fixed-size hash instead. */
export const hashedKey = (scope: string, id: string) =>
  `${scope}:${createHash("sha256").update(id).digest("base64url")}`;
