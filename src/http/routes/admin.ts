import type Router from "@koa/router";
import { z } from "zod";
import { EVENT_STATUSES, listEvents } from "../../db/stores/events.js";
import { WITHDRAWAL_STATUSES, listWithdrawals } from "../../db/stores/withdrawals.js";
import { replayEvent as replayFlow } from "../../flows/replay-event.js";
import {
  approveWithdrawal as approveFlow,
  rejectWithdrawal as rejectFlow,
} from "../../flows/withdrawal-admin.js";
import { enqueueWithdrawal } from "../../queue/enqueue.js";
import { callerOf } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { flowDeps } from "../flow-deps.js";
import { operation, route } from "../openapi/operation.js";
import { AdminEvent, ReplayedEvent, presentEvent } from "../present-admin.js";
import { AdminWithdrawal, list, presentWithdrawalForAdmin } from "../present.js";
import { limitPerCaller } from "../rate-limit.js";
import { codedAs, pageQuery, toPage } from "../validate.js";
import { adminViewRoutes } from "./admin-views.js";

const reason = codedAs(
  z.string().max(1000).trim().min(1).meta({ description: "Why; kept in the audit log" }),
  "invalid_field",
  "reason must be a non-empty string of at most 1000 characters",
);
const statusOf = (statuses: readonly [string, ...string[]]) =>
  codedAs(
    z.enum(statuses).meta({ description: "Only those in this status" }),
    "invalid_field",
    `status must be one of ${statuses.join(", ")}`,
  ).optional();

export const adminListWithdrawals = operation({
  method: "get",
  path: "/admin/withdrawals",
  operationId: "adminListWithdrawals",
  summary: "Every user's withdrawals, newest first, by status",
  security: "admin",
  query: z.strictObject({ ...pageQuery, status: statusOf(WITHDRAWAL_STATUSES) }),
  responses: { 200: { description: "A page of withdrawals", body: list(AdminWithdrawal) } },
  errors: [400],
});

export const approveWithdrawal = operation({
  method: "post",
  path: "/admin/withdrawals/{id}/approve",
  operationId: "approveWithdrawal",
  summary:
    "Approve a pending_review withdrawal: the worker transfers and pays it out; refused (409) while the user's wallet is negative or a dispute of theirs is open or appealed; audited",
  security: "admin",
  params: { id: "The withdrawal's id" },
  body: z.strictObject({ reason: reason.optional() }),
  responses: { 200: { description: "Approved", body: AdminWithdrawal } },
  errors: [404, 409, 429],
});

export const rejectWithdrawal = operation({
  method: "post",
  path: "/admin/withdrawals/{id}/reject",
  operationId: "rejectWithdrawal",
  summary: "Reject a pending_review withdrawal with a reason; the hold is released; audited",
  security: "admin",
  params: { id: "The withdrawal's id" },
  body: z.strictObject({ reason }),
  responses: { 200: { description: "Rejected", body: AdminWithdrawal } },
  errors: [404, 409, 429],
});

export const adminListEvents = operation({
  method: "get",
  path: "/admin/events",
  operationId: "adminListEvents",
  summary: "Stored Stripe events, newest first, by status",
  security: "admin",
  query: z.strictObject({ ...pageQuery, status: statusOf(EVENT_STATUSES) }),
  responses: { 200: { description: "A page of events", body: list(AdminEvent) } },
  errors: [400],
});

export const replayEvent = operation({
  method: "post",
  path: "/admin/events/{id}/replay",
  operationId: "replayEvent",
  summary:
    "Re-open a failed (or ignored) event and enqueue it again; audited. Applying an event twice moves no money twice.",
  security: "admin",
  params: { id: "The Stripe event's id (`evt_…`)" },
  body: z.strictObject({ reason: reason.optional() }),
  responses: { 200: { description: "Re-opened and enqueued", body: ReplayedEvent } },
  errors: [404, 409, 429],
});

/** Admin routes (JWT with role=admin). Every decision is written to the audit log with its actor. */
export function adminRoutes(router: Router, deps: AppDeps): void {
  route(router, adminListWithdrawals, async (ctx, { query }) => {
    const { data, hasMore } = await listWithdrawals(deps.db, {
      ...toPage(query),
      ...(query.status !== undefined && { status: query.status }),
    });
    ctx.body = { data: data.map(presentWithdrawalForAdmin), has_more: hasMore };
  });

  route(router, approveWithdrawal, limitPerCaller, async (ctx, { params, body }) => {
    const wd = await approveFlow(
      flowDeps(deps, ctx),
      {
        withdrawalId: params.id!,
        actor: callerOf(ctx).userId,
        requestId: ctx.state.requestId as string,
        ...(body.reason && { reason: body.reason }),
      },
      (id) => enqueueWithdrawal(deps.queues, id),
    );
    ctx.body = presentWithdrawalForAdmin(wd);
  });

  route(router, rejectWithdrawal, limitPerCaller, async (ctx, { params, body }) => {
    const wd = await rejectFlow(flowDeps(deps, ctx), {
      withdrawalId: params.id!,
      actor: callerOf(ctx).userId,
      requestId: ctx.state.requestId as string,
      reason: body.reason,
    });
    ctx.body = presentWithdrawalForAdmin(wd);
  });

  route(router, adminListEvents, async (ctx, { query }) => {
    const { data, hasMore } = await listEvents(deps.db, {
      ...toPage(query),
      ...(query.status !== undefined && { status: query.status }),
    });
    ctx.body = { data: data.map(presentEvent), has_more: hasMore };
  });

  route(router, replayEvent, limitPerCaller, async (ctx, { params, body }) => {
    const row = await replayFlow(
      { ...flowDeps(deps, ctx), queues: deps.queues },
      {
        eventId: params.id!,
        actor: callerOf(ctx).userId,
        requestId: ctx.state.requestId as string,
        ...(body.reason && { reason: body.reason }),
      },
    );
    ctx.body = { id: row.id, type: row.type, status: row.status, attempts: row.attempts };
  });

  adminViewRoutes(router, deps);
}
