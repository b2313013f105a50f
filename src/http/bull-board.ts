import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { KoaAdapter } from "@bull-board/koa";
import type { Context, Next } from "koa";
import type Koa from "koa";
import { appendAudit } from "../db/stores/audit.js";
import { verifyBearer } from "./auth.js";
import type { AppDeps } from "./deps.js";
import { httpError } from "./errors.js";

export const BULL_BOARD_PATH = "/admin/queues";
/** Browsers cannot add an Authorization header to page loads, so an admin token may come as this cookie. */
export const ADMIN_COOKIE = "coffer_admin_token";

/**
 * Bull Board at /admin/queues, for admins only. Every action it offers (retry,
 * promote, remove, clean…) is a non-GET request to its API, and each one is
 * written to the audit log before it runs, with the admin who asked.
 */
export function mountBullBoard(app: Koa, deps: AppDeps): void {
  const adapter = new KoaAdapter();
  adapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: Object.values(deps.queues).map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
  });
  const board = adapter.registerPlugin();

  app.use(async (ctx: Context, next: Next) => {
    if (ctx.path !== BULL_BOARD_PATH && !ctx.path.startsWith(`${BULL_BOARD_PATH}/`)) return next();
    const header =
      ctx.get("authorization") ||
      (ctx.cookies.get(ADMIN_COOKIE) ? `Bearer ${ctx.cookies.get(ADMIN_COOKIE)}` : undefined);
    const caller = verifyBearer(header, deps.config.AUTH_JWT_SECRET, deps.config.AUTH_MAX_TOKEN_LIFETIME_S);
    if (!caller.isAdmin) throw httpError("forbidden", "admin role required");
    if (ctx.method !== "GET" && ctx.method !== "HEAD") {
      await appendAudit(deps.db, {
        actor: caller.userId,
        action: `bull_board.${ctx.method.toLowerCase()}`,
        target: ctx.path.slice(BULL_BOARD_PATH.length) || "/",
        requestId: ctx.state.requestId as string,
      });
      ctx.state.log.info({ actor: caller.userId, path: ctx.path }, "bull board action");
    }
    return board(ctx, next);
  });
}
