import type { RedisConnection } from "../queue/redis.js";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

/**
 * Terminology:
 * - the budget: how many Stripe requests per second every Coffer process together may send
 *   (`STRIPE_MAX_RPS`), counted in Redis so that web, workers and scripts share one number;
 * - a slot: a short time window admitting exactly one request across all processes.
 *
 * Why slots and not one counter per second: a fixed one-second window admits its whole budget at
 * the end of one second and again at the start of the next, twice the budget within a few
 * milliseconds, which is what Stripe's limiter answers with 429. One request per slot spreads the
 * budget evenly instead. Slots are sized for `max - 2` per second, so that any sliding second
 * holds at most `max` requests even when network jitter moves a request by up to one slot (56 ms
 * at the default of 20).
 */
export interface StripeBudget {
  readonly maxRps: number;
  /** Resolves once a slot is ours; throws StripeBudgetExhausted when none frees within the bound. */
  take(): Promise<void>;
}

/** No slot freed within the wait bound: the caller should come back after `retryAfterMs`. */
export class StripeBudgetExhausted extends Error {
  constructor(
    readonly retryAfterMs: number,
    maxRps: number,
  ) {
    super(`the shared Stripe request budget (STRIPE_MAX_RPS=${maxRps}) is exhausted`);
    this.name = "StripeBudgetExhausted";
  }
}

export interface BudgetOptions {
  /** A connection that fails fast when Redis is away (the producer kind), so the insurance takes over. */
  redis: RedisConnection;
  maxRps: number;
  /** Shared by every process that talks to the same Stripe account. */
  keyPrefix: string;
  /** How long a caller may wait for a slot before it is told to come back later. */
  maxWaitMs?: number;
}

export const DEFAULT_MAX_WAIT_MS = 1_000;

export function createStripeBudget(o: BudgetOptions): StripeBudget {
  const slotMs = Math.ceil(1000 / Math.max(1, o.maxRps - 2));
  const maxWaitMs = o.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const limiter = new RateLimiterRedis({
    storeClient: o.redis,
    keyPrefix: o.keyPrefix,
    points: 1,
    // Each slot has its own key; a second is only how long Redis keeps it.
    duration: 1,
    // Redis away: each process counts its own slots, so N processes send up to N× the budget
    // (Stripe's 429s, which delay jobs, cover the excess) rather than sending nothing.
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: o.keyPrefix, points: 1, duration: 1 }),
  });

  const won = async (slot: number): Promise<boolean> => {
    try {
      await limiter.consume(String(slot));
      return true;
    } catch (res) {
      if (res instanceof RateLimiterRes) return false;
      throw res;
    }
  };

  const takeSlot = async (deadline: number): Promise<void> => {
    for (;;) {
      const slot = Math.floor(Date.now() / slotMs);
      if (await won(slot)) return;
      const next = (slot + 1) * slotMs;
      if (next > deadline) throw new StripeBudgetExhausted(maxWaitMs, o.maxRps);
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, next - Date.now())));
    }
  };

  // One caller of this process at a time asks Redis, in arrival order: only one request per slot
  // can win across all processes anyway, and a crowd of pollers would only add Redis load.
  let tail: Promise<unknown> = Promise.resolve();
  return {
    maxRps: o.maxRps,
    take() {
      const deadline = Date.now() + maxWaitMs;
      const mine = tail.then(() => takeSlot(deadline));
      tail = mine.catch(() => undefined);
      return mine;
    },
  };
}

/** The budget's Redis key prefix: one per deployment, like its queues. */
export const stripeBudgetPrefix = (queuePrefix: string) => `${queuePrefix}:stripe-budget`;
