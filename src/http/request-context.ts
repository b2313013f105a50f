import { randomUUID } from "node:crypto";
import type { Context, Next } from "koa";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";

/**
 * Gives each request an id (echoed as `Request-Id`; a client's `X-Request-Id` only when it
 * matches a strict pattern, since it is written to logs and the audit log), a child logger that
 * carries it, one access log line and a duration metric labelled by route
 * template rather than by raw path, so ids do not explode label cardinality.
 */
export function requestContext(logger: Logger, metrics: Metrics) {
  return async (ctx: Context, next: Next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get("x-request-id");
    const requestId = /^[A-Za-z0-9_-]{8,64}$/.test(incoming)
      ? incoming
      : `req_${randomUUID().replaceAll("-", "")}`;
    ctx.state.requestId = requestId;
    lazyLogger(ctx.state as Record<string, unknown>, () => logger.child({ request_id: requestId }));
    ctx.set("Request-Id", requestId);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? "unmatched";
      metrics.httpDuration.observe(
        { method: ctx.method, route: String(route), status: String(ctx.status) },
        seconds,
      );
      const line = { method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1000) };
      // SPEC: one access line per request at info. It names the route template, never the raw
      // path, so a hostile path (a NUL, 10 KB) does not reach the logs.
      if (ctx.status >= 500) ctx.state.log.error(line, "request");
      else ctx.state.log.info(line, "request");
    }
  };
}

/**
 * `state.log` is built on first use: most requests on the hot webhook path never
 * log, and a pino child per request is measurable there. Assigning replaces it
 * (routes narrow it with more bindings).
 */
function lazyLogger(state: Record<string, unknown>, make: () => Logger): void {
  let log: Logger | undefined;
  Object.defineProperty(state, "log", {
    configurable: true,
    enumerable: true,
    get: () => (log ??= make()),
    set: (v: Logger) => void (log = v),
  });
}
