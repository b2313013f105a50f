import type { Context, Next } from "koa";
import { callerOf } from "./auth.js";
import { httpError } from "./errors.js";

/**
 * Per-user fixed-window limit on money-moving routes. The window lives in this
 * process, so N web processes allow up to N× the limit; it exists to stop a
 * runaway client, not to meter usage. `0` turns it off.
 */
export function rateLimit(perMinute: number) {
  const windows = new Map<string, { start: number; count: number }>();
  return async (ctx: Context, next: Next) => {
    if (perMinute > 0) {
      const now = Date.now();
      const key = callerOf(ctx).userId;
      let w = windows.get(key);
      if (!w || now - w.start >= 60_000) {
        if (windows.size > 50_000) windows.clear();
        w = { start: now, count: 0 };
        windows.set(key, w);
      }
      if (++w.count > perMinute) {
        throw httpError("rate_limited", "too many requests, slow down", {
          retry_after_s: Math.ceil((w.start + 60_000 - now) / 1000),
        });
      }
    }
    await next();
  };
}
