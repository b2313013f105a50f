import type Router from "@koa/router";
import { listAudit } from "../../db/stores/audit.js";
import { getBalances } from "../../db/stores/balances.js";
import { listEntries } from "../../db/stores/ledger-entries.js";
import { adminSummary } from "../../db/stores/summary.js";
import { EVENT_STATUSES, listEvents } from "../../db/stores/events.js";
import { checkInvariants } from "../../db/stores/ledger-checks.js";
import { userExists } from "../../db/stores/users.js";
import { listWithdrawals, WITHDRAWAL_STATUSES } from "../../db/stores/withdrawals.js";
import { replayEvent } from "../../flows/replay-event.js";
import { approveWithdrawal, rejectWithdrawal } from "../../flows/withdrawal-admin.js";
import { enqueueWithdrawal } from "../../queue/enqueue.js";
import { callerOf } from "../auth.js";
import { readJsonBody } from "../body.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { flowDeps } from "../flow-deps.js";
import { presentBalance, presentEntry, presentWithdrawalForAdmin } from "../present.js";
import { objectWithOnly, pageParams } from "../validate.js";
import { parseEntryId } from "./wallet.js";

/** Admin routes (JWT with role=admin). Every decision is written to the audit log with its actor. */
export function adminRoutes(router: Router, deps: AppDeps): void {
  router.get("/admin/withdrawals", async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    const page = pageParams(query, ["status"]);
    const status = query.status;
    if (status !== undefined && !WITHDRAWAL_STATUSES.includes(status as never)) {
      throw httpError("invalid_field", `status must be one of ${WITHDRAWAL_STATUSES.join(", ")}`, {
        param: "status",
      });
    }
    const { data, hasMore } = await listWithdrawals(deps.db, {
      ...page,
      ...(typeof status === "string" && { status }),
    });
    ctx.body = { data: data.map(presentWithdrawalForAdmin), has_more: hasMore };
  });

  router.post("/admin/withdrawals/:id/approve", async (ctx) => {
    const body = objectWithOnly(await readJsonBody(ctx), ["reason"]);
    const reason = optionalReason(body.reason);
    const wd = await approveWithdrawal(
      flowDeps(deps, ctx),
      {
        withdrawalId: ctx.params.id!,
        actor: callerOf(ctx).userId,
        requestId: ctx.state.requestId as string,
        ...(reason && { reason }),
      },
      (id) => enqueueWithdrawal(deps.queues, id),
    );
    ctx.body = presentWithdrawalForAdmin(wd);
  });

  router.post("/admin/withdrawals/:id/reject", async (ctx) => {
    const body = objectWithOnly(await readJsonBody(ctx), ["reason"]);
    const reason = optionalReason(body.reason);
    if (!reason) throw httpError("field_required", "a rejection needs a reason", { param: "reason" });
    const wd = await rejectWithdrawal(flowDeps(deps, ctx), {
      withdrawalId: ctx.params.id!,
      actor: callerOf(ctx).userId,
      requestId: ctx.state.requestId as string,
      reason,
    });
    ctx.body = presentWithdrawalForAdmin(wd);
  });

  router.get("/admin/events", async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    const page = pageParams(query, ["status"]);
    const status = query.status;
    if (status !== undefined && !EVENT_STATUSES.includes(status as never)) {
      throw httpError("invalid_field", `status must be one of ${EVENT_STATUSES.join(", ")}`, {
        param: "status",
      });
    }
    const { data, hasMore } = await listEvents(deps.db, {
      ...page,
      ...(typeof status === "string" && { status }),
    });
    ctx.body = { data, has_more: hasMore };
  });

  router.post("/admin/events/:id/replay", async (ctx) => {
    const body = objectWithOnly(await readJsonBody(ctx), ["reason"]);
    const reason = optionalReason(body.reason);
    const row = await replayEvent(
      { ...flowDeps(deps, ctx), queues: deps.queues },
      {
        eventId: ctx.params.id!,
        actor: callerOf(ctx).userId,
        requestId: ctx.state.requestId as string,
        ...(reason && { reason }),
      },
    );
    ctx.body = { id: row.id, type: row.type, status: row.status, attempts: row.attempts };
  });

  router.get("/admin/summary", async (ctx) => {
    ctx.body = await adminSummary(deps.db);
  });

  router.get("/admin/users/:id/wallet", async (ctx) => {
    if (!(await userExists(deps.db, ctx.params.id!))) throw httpError("not_found", "no such user");
    const rows = await getBalances(deps.db, ctx.params.id!);
    ctx.body = { user_id: ctx.params.id, balances: rows.map(presentBalance) };
  });

  router.get("/admin/users/:id/ledger", async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    const page = pageParams(query, ["currency"]);
    if (!(await userExists(deps.db, ctx.params.id!))) throw httpError("not_found", "no such user");
    const cursor = page.startingAfter === undefined ? undefined : parseEntryId(page.startingAfter);
    const { data, hasMore } = await listEntries(deps.db, {
      userId: ctx.params.id!,
      limit: page.limit,
      ...(typeof query.currency === "string" && { currency: query.currency }),
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = { data: data.map(presentEntry), has_more: hasMore };
  });

  router.get("/admin/ledger/check", async (ctx) => {
    const report = await checkInvariants(deps.db);
    ctx.status = report.ok ? 200 : 409;
    ctx.body = report;
  });

  router.get("/admin/audit-log", async (ctx) => {
    const page = pageParams(ctx.query as Record<string, unknown>);
    const cursor = page.startingAfter === undefined ? undefined : Number(page.startingAfter);
    if (cursor !== undefined && !Number.isSafeInteger(cursor))
      throw httpError("invalid_cursor", "starting_after must be an audit entry id");
    const { data, hasMore } = await listAudit(deps.db, {
      limit: page.limit,
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = { data: data.map((r) => ({ ...r, id: String(r.id) })), has_more: hasMore };
  });
}

function optionalReason(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.trim().length === 0 || v.length > 1000) {
    throw httpError("invalid_field", "reason must be a non-empty string of at most 1000 characters", {
      param: "reason",
    });
  }
  return v.trim();
}
