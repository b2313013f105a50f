import type { Context, Middleware } from "koa";
import type Koa from "koa";
import { appendAudit } from "../db/stores/audit.js";
import { retryAllJobs, retryEventJob } from "../flows/board-retry.js";
import { DomainError } from "../ledger/errors.js";
import { QUEUE_NAMES, type QueueName } from "../queue/names.js";
import type { Caller } from "./auth.js";
import { BULL_BOARD_PATH, LOGIN_PATH, boardCallerOrLogin, sessionRoutes } from "./bull-board-session.js";
import type { AppDeps } from "./deps.js";
import { httpError, statusForCode } from "./errors.js";
import { flowDeps } from "./flow-deps.js";
import { crossSiteReason, isStateChanging } from "./same-origin.js";

export { ADMIN_COOKIE, BULL_BOARD_PATH } from "./bull-board-session.js";

const API = `${BULL_BOARD_PATH}/api/`;
/** The board answers every path under it: nothing falls through to the JSON API's routers. */
const end = async () => undefined;

/**
 * Bull Board at /admin/queues, for admins only (bearer header, or the cookie the login page
 * sets). Every action it offers (retry, promote, remove, clean…) is a state-changing request
 * to its API: refused if another site sent it, and audited after it ran, with its outcome.
 * Retrying an event's job goes through the admin replay (src/flows/board-retry.ts).
 */
export function mountBullBoard(app: Koa, deps: AppDeps): void {
  const board = onFirstUse(deps);

  app.use(async (ctx: Context, next) => {
    if (ctx.path !== BULL_BOARD_PATH && !ctx.path.startsWith(`${BULL_BOARD_PATH}/`)) return next();
    ctx.state.routeLabel = BULL_BOARD_PATH; // one route in the metrics, whatever the board's own paths
    // Under `no-referrer` a browser sends `Origin: null` even on the board's own form posts and
    // API calls, which the cross-site check must refuse; `same-origin` still tells other sites nothing.
    ctx.set("Referrer-Policy", "same-origin");
    try {
      await serveBoard(ctx, deps, board);
    } catch (err) {
      if (!(ctx.path.startsWith(API) && showInBoard(ctx, err))) throw err;
    }
  });
}

/**
 * The board itself, loaded by its first signed-in request: Bull Board and its UI are about 16 MB
 * of a web process's memory (measured by importing them), which a web that never serves the board
 * should not carry. A failed load is not kept, so the next request tries again.
 */
function onFirstUse(deps: AppDeps): Middleware {
  let loading: Promise<Middleware> | undefined;
  const load = async (): Promise<Middleware> => {
    const [{ createBullBoard }, { BullMQAdapter }, { KoaAdapter }] = await Promise.all([
      import("@bull-board/api"),
      import("@bull-board/api/bullMQAdapter"),
      import("@bull-board/koa"),
    ]);
    const adapter = new KoaAdapter();
    adapter.setBasePath(BULL_BOARD_PATH);
    createBullBoard({
      queues: Object.values(deps.queues).map((q) => new BullMQAdapter(q)),
      serverAdapter: adapter,
    });
    return adapter.registerPlugin();
  };
  return async (ctx, next) => {
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return (await loading)(ctx, next);
  };
}

async function serveBoard(ctx: Context, deps: AppDeps, board: Middleware): Promise<void> {
  const publicUrl = deps.config.PUBLIC_URL;
  if (isStateChanging(ctx.method)) {
    const why = crossSiteReason(ctx, publicUrl);
    if (why) {
      ctx.state.log.warn({ path: ctx.path, why }, "cross-site request to Bull Board refused");
      throw httpError("forbidden", `cross-site request refused: ${why}`);
    }
  }
  const secure = ctx.secure || publicUrl?.startsWith("https:") === true;
  if (await sessionRoutes(ctx, deps.config, secure)) return;
  const caller = boardCallerOrLogin(ctx, deps.config);
  if (!caller) {
    ctx.redirect(LOGIN_PATH);
    ctx.status = 303;
    return;
  }
  if (!isStateChanging(ctx.method)) {
    await board(ctx, end);
    return;
  }
  await audited(ctx, deps, caller, () => act(ctx, deps, caller, board));
}

/** A retry is Coffer's to decide when it concerns an event; everything else is the board's. */
async function act(ctx: Context, deps: AppDeps, caller: Caller, board: Middleware): Promise<object> {
  const retry = ctx.method === "PUT" ? parseRetry(ctx.path) : null;
  const flow = { ...flowDeps(deps, ctx), queues: deps.queues };
  const who = { actor: caller.userId, requestId: ctx.state.requestId as string };
  if (retry?.kind === "job") {
    if ((await retryEventJob(flow, { ...who, ...retry })) === "replayed") {
      ctx.status = 204;
      return { replayed: retry.jobId };
    }
  } else if (retry?.kind === "all") {
    const counts = await retryAllJobs(flow, { ...who, ...retry });
    ctx.body = { retried: counts.retried + counts.replayed, skipped: counts.skipped };
    return counts;
  }
  await board(ctx, end);
  return {};
}

/**
 * The audit row is written after the action, with what came of it: `succeeded` and the status,
 * or `failed` with the status and the code (an action that 404s did not happen, and says so).
 * A row that cannot be written is an alert; the answer stays the action's.
 */
async function audited(ctx: Context, deps: AppDeps, caller: Caller, action: () => Promise<object>) {
  let outcome: Record<string, unknown>;
  try {
    const detail = await action();
    outcome =
      ctx.status < 400
        ? { outcome: "succeeded", status: ctx.status, ...detail }
        : { outcome: "failed", status: ctx.status, code: boardErrorCode(ctx) };
  } catch (err) {
    await record(ctx, deps, caller, { outcome: "failed", ...failureOf(err) });
    throw err;
  }
  await record(ctx, deps, caller, outcome);
}

async function record(ctx: Context, deps: AppDeps, caller: Caller, after: Record<string, unknown>) {
  const entry = {
    actor: caller.userId,
    action: `bull_board.${ctx.method.toLowerCase()}`,
    target: ctx.path.slice(BULL_BOARD_PATH.length),
    after,
    requestId: ctx.state.requestId as string,
  };
  try {
    await appendAudit(deps.db, entry);
    ctx.state.log.info({ actor: caller.userId, path: ctx.path, ...after }, "bull board action");
  } catch (err) {
    ctx.state.log.error({ err, alert: true, ...entry }, "bull board action not audited");
  }
}

function failureOf(err: unknown): { status: number; code: string } {
  if (err instanceof DomainError) return { status: statusForCode(err.code), code: err.code };
  return { status: 500, code: "internal_error" };
}

/** The board's own error bodies carry a translation key (`ERRORS.JOB_NOT_FOUND`); an unmatched path none. */
function boardErrorCode(ctx: Context): string {
  const key = (ctx.body as { error?: { key?: unknown } } | undefined)?.error?.key;
  return typeof key === "string" ? key : ctx.status === 404 ? "not_found" : "error";
}

type Retry =
  | { kind: "job"; queue: QueueName; jobId: string }
  | { kind: "all"; queue: QueueName; state: "failed" | "completed" };

/** `PUT …/api/queues/:queue/:jobId/retry` and `PUT …/api/queues/:queue/retry/:state`, as the board routes them. */
function parseRetry(path: string): Retry | null {
  if (!path.startsWith(`${API}queues/`)) return null;
  const parts = path.slice(`${API}queues/`.length).split("/").map(safeDecode);
  if (parts.length !== 3) return null;
  const [queue, second, third] = parts as [string, string, string];
  if (!(QUEUE_NAMES as readonly string[]).includes(queue)) return null;
  const q = queue as QueueName;
  if (second === "retry" && (third === "failed" || third === "completed"))
    return { kind: "all", queue: q, state: third };
  if (third === "retry") return { kind: "job", queue: q, jobId: second };
  return null;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The board's client shows a failed request as a toast: its title is `error.key` (a
 * translation key; an unknown one is shown as it is) and its text the top-level `message`.
 * So Coffer's refusals keep SPEC's envelope and add those two.
 */
function showInBoard(ctx: Context, err: unknown): boolean {
  if (!(err instanceof DomainError) || statusForCode(err.code) >= 500) return false;
  ctx.status = statusForCode(err.code);
  ctx.body = {
    error: {
      code: err.code,
      message: err.message,
      request_id: ctx.state.requestId as string,
      ...err.details,
      key: ctx.status === 401 || ctx.status === 403 ? "ERRORS.FORBIDDEN" : "Refused by Coffer",
    },
    message: err.message,
  };
  return true;
}
