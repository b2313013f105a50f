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
    const made = lazyLogger(ctx.state as Record<string, unknown>, () =>
      logger.child({ request_id: requestId }),
    );
    ctx.set("Request-Id", requestId);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeTemplate(ctx);
      metrics.httpDuration.observe({ method: ctx.method, route, status: String(ctx.status) }, seconds);
      // SPEC: one access line per request at info. It names the route template, never the raw
      // path, so a hostile path (a NUL, 10 KB) does not reach the logs. The caller's `user_id`
      // comes with `state.log`, bound once the token verified (auth.ts `identify`).
      const level = ctx.status >= 500 ? "error" : "info";
      if (logger.isLevelEnabled(level)) {
        const line = { method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1000) };
        // A request that logged nothing else (the webhook's happy path) gets no child logger made
        // for this one line: the root logger writes it with the id (issue 9: a child per webhook
        // was measurable beside the bare path).
        if (made()) ctx.state.log[level](line, "request");
        else logger[level]({ request_id: requestId, ...line }, "request");
      }
    }
  };
}

interface RouteLayer {
  path: unknown;
  methods: string[];
}

/**
 * The route's template (`/v1/withdrawals/:id`), also when a middleware before its handler
 * answered (a 401 from `requireUser`): the router's `_matchedRoute` then names the middleware's
 * prefix (`/v1`), so the template is taken from the route layers that matched the path, the one
 * for this method first (else a 405's). A mounted app names its own (Bull Board is one route,
 * whatever its inner paths); no route at all is `unmatched`.
 */
function routeTemplate(ctx: Context): string {
  if (typeof ctx.state.routeLabel === "string") return ctx.state.routeLabel;
  const routes = ((ctx as Context & { matched?: RouteLayer[] }).matched ?? []).filter(
    (l) => l.methods.length > 0,
  );
  const best = routes.findLast((l) => l.methods.includes(ctx.method)) ?? routes.at(-1);
  return best ? String(best.path) : "unmatched";
}

/**
 * `state.log` is built on first use: most requests on the hot webhook path never
 * log, and a pino child per request is measurable there. Assigning replaces it
 * (routes narrow it with more bindings). Returns whether it has been built.
 */
function lazyLogger(state: Record<string, unknown>, make: () => Logger): () => boolean {
  let log: Logger | undefined;
  Object.defineProperty(state, "log", {
    configurable: true,
    enumerable: true,
    get: () => (log ??= make()),
    set: (v: Logger) => void (log = v),
  });
  return () => log !== undefined;
}
