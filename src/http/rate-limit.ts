import type Koa from "koa";
import type { Context, Next } from "koa";
import { callerOf } from "./auth.js";
import { httpError } from "./errors.js";
import { hashedKey, sharedWindow, take, type RateLimitDeps } from "./limit-window.js";
import { createWebhookGuard, type WebhookGuard } from "./webhook-guard.js";

/**
 * The caller limit: RATE_LIMIT_PER_MINUTE requests a minute per user on /v1 and per admin on
 * /admin, on every route that moves money or calls Stripe, shared by all web processes through
 * Redis (src/http/limit-window.ts says what happens while Redis is away). `0` turns it off.
 * A route opts in with one middleware, after authentication:
 *
 *   route(router, createThing, limitPerCaller, async (ctx, { body }) => { … });
 *
 * (src/http/openapi/operation.ts: the operation must then list 429 in its errors.)
 * It runs before the body is read, so a refused or malformed request counts too: the limit
 * bounds attempts, not successes. Over the limit: 429 `rate_limited`, `Retry-After` and
 * `retry_after_s` (the seconds until the caller's window ends).
 */
interface Installed {
  /** Counts one request for (scope, caller id); throws 429 `rate_limited` past the limit. */
  count: (scope: CallerScope, id: string) => Promise<void>;
  webhook: WebhookGuard;
}
/** One admin acting on /admin and a user with the same `sub` on /v1 are different callers. */
type CallerScope = "user" | "admin";
const INSTALLED = new WeakMap<Koa, Installed>();

/** Builds this app's limiters once; createApp calls it before mounting routes. */
export function installRateLimits(app: Koa, deps: RateLimitDeps): void {
  const perMinute = deps.config.RATE_LIMIT_PER_MINUTE;
  if (!deps.redis && perMinute > 0)
    deps.logger.warn("rate limits: no Redis connection given, so each process counts its own windows");
  const limiter =
    perMinute > 0
      ? sharedWindow(deps.redis, `${deps.config.QUEUE_PREFIX}:rate-limit:caller`, perMinute)
      : undefined;
  const count = async (scope: CallerScope, id: string) => {
    if (!limiter) return;
    const retryAfterS = await take(limiter, hashedKey(scope, id));
    if (retryAfterS > 0) {
      throw httpError("rate_limited", `more than ${perMinute} requests a minute here, slow down`, {
        retry_after_s: retryAfterS,
      });
    }
  };
  INSTALLED.set(app, { count, webhook: createWebhookGuard(deps) });
}

function installed(ctx: Context): Installed {
  const found = INSTALLED.get(ctx.app);
  if (!found) throw new Error("rate limits are not installed on this app (installRateLimits)");
  return found;
}

/** The caller limit as route middleware (see above). */
export const limitPerCaller = async (ctx: Context, next: Next): Promise<void> => {
  await installed(ctx).count(ctx.path.startsWith("/admin/") ? "admin" : "user", callerOf(ctx).userId);
  await next();
};

/**
 * The caller limit for a route with no bearer token that acts for a user it learns from its
 * request (/connect/refresh, from its signed token): counted as that user's /v1 requests, before
 * Stripe is called.
 */
export const limitAsUser = (ctx: Context, userId: string): Promise<void> =>
  installed(ctx).count("user", userId);

/** The webhook route's per-address bound on refused deliveries (src/http/webhook-guard.ts). */
export const webhookGuard = (ctx: Context): WebhookGuard => installed(ctx).webhook;
