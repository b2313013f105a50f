import Router from "@koa/router";
import Koa from "koa";
import { requireAdmin, requireUser } from "./auth.js";
import { mountBullBoard } from "./bull-board.js";
import type { AppDeps } from "./deps.js";
import { errorMiddleware } from "./errors.js";
import { refuseHostileInput } from "./hostile.js";
import { rateLimit } from "./rate-limit.js";
import { requestContext } from "./request-context.js";
import { securityHeaders } from "./security-headers.js";
import { adminRoutes } from "./routes/admin.js";
import { connectRoutes } from "./routes/connect.js";
import { opsRoutes } from "./routes/ops.js";
import { reconciliationRoutes } from "./routes/reconciliation.js";
import { topUpRoutes } from "./routes/top-ups.js";
import { walletRoutes } from "./routes/wallet.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { withdrawalRoutes } from "./routes/withdrawals.js";

/** Builds the Koa app without listening, so tests and the web entry point share it. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: false });
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

  mountBullBoard(app, deps);

  const open = new Router();
  opsRoutes(open, deps);
  webhookRoutes(open, deps);
  app.use(open.routes()).use(open.allowedMethods());

  const user = new Router();
  user.use("/v1", requireUser(deps.db, deps.config.AUTH_JWT_SECRET, deps.config.AUTH_MAX_TOKEN_LIFETIME_S));
  const limiter = rateLimit(deps.config.RATE_LIMIT_PER_MINUTE);
  walletRoutes(user, deps);
  topUpRoutes(user, deps, limiter);
  withdrawalRoutes(user, deps, limiter);
  connectRoutes(user, deps);
  app.use(user.routes()).use(user.allowedMethods());

  const admin = new Router();
  admin.use("/admin", requireAdmin(deps.config.AUTH_JWT_SECRET, deps.config.AUTH_MAX_TOKEN_LIFETIME_S));
  adminRoutes(admin, deps);
  reconciliationRoutes(admin, deps);
  app.use(admin.routes()).use(admin.allowedMethods());
  return app;
}
