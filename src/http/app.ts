import Router from "@koa/router";
import Koa from "koa";
import { requireAdmin, requireUser } from "./auth.js";
import { mountBullBoard } from "./bull-board.js";
import type { AppDeps } from "./deps.js";
import { errorMiddleware } from "./errors.js";
import { legacyAmounts } from "./legacy-amounts.js";
import { refuseHostileInput } from "./hostile.js";
import { installRateLimits } from "./rate-limit.js";
import { requestContext } from "./request-context.js";
import { securityHeaders } from "./security-headers.js";
import { adminRoutes } from "./routes/admin.js";
import { connectRoutes } from "./routes/connect.js";
import { connectPageRoutes } from "./routes/connect-pages.js";
import { notificationRoutes } from "./routes/notifications.js";
import { opsRoutes } from "./routes/ops.js";
import { planRoutes } from "./routes/plans.js";
import { reconciliationRoutes } from "./routes/reconciliation.js";
import { subscriptionRoutes } from "./routes/subscriptions.js";
import { topUpRoutes } from "./routes/top-ups.js";
import { walletRoutes } from "./routes/wallet.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { withdrawalRoutes } from "./routes/withdrawals.js";

/** Builds the Koa app without listening, so tests and the web entry point share it. */
export function createApp(deps: AppDeps): Koa {
  // Forwarded headers are believed only from the TRUSTED_PROXY_HOPS proxies in front: ctx.ip is
  // then the address the outermost of them saw (the webhook guard's per-address bound needs the
  // client's, not the proxy's), and ctx.protocol / ctx.host their X-Forwarded-Proto / -Host.
  const hops = deps.config.TRUSTED_PROXY_HOPS;
  const app = new Koa({ proxy: hops > 0, maxIpsCount: hops });
  // errorMiddleware answers everything a handler throws; what reaches Koa's own handler is the
  // socket's (a client gone mid-request). That is the client's doing: one info line, not the
  // default stack trace on stderr, and nothing that looks like a failure of ours.
  app.on("error", (err: NodeJS.ErrnoException) =>
    deps.logger.info({ code: err.code, message: err.message }, "client connection error"),
  );
  app.use(requestContext(deps.logger, deps.metrics));
  app.use(securityHeaders);
  app.use(errorMiddleware);
  app.use(refuseHostileInput);

  installRateLimits(app, deps);
  mountBullBoard(app, deps);
  app.use(legacyAmounts);

  const open = new Router();
  opsRoutes(open, deps);
  webhookRoutes(open, deps);
  connectPageRoutes(open, deps);
  app.use(open.routes()).use(open.allowedMethods());

  const user = new Router();
  user.use("/v1", requireUser(deps.db, deps.config));
  walletRoutes(user, deps);
  topUpRoutes(user, deps);
  withdrawalRoutes(user, deps);
  connectRoutes(user, deps);
  planRoutes(user, deps);
  subscriptionRoutes(user, deps);
  app.use(user.routes()).use(user.allowedMethods());

  const admin = new Router();
  admin.use("/admin", requireAdmin(deps.config));
  adminRoutes(admin, deps);
  reconciliationRoutes(admin, deps);
  notificationRoutes(admin, deps);
  app.use(admin.routes()).use(admin.allowedMethods());
  return app;
}
