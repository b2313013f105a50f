import type Router from "@koa/router";
import { z } from "zod";
import { appendAudit } from "../../db/stores/audit.js";
import {
  createRun,
  getRun,
  listDiscrepancies,
  listSnapshots,
  runSnapshots,
} from "../../db/stores/reconciliation.js";
import { withTransaction } from "../../db/transaction.js";
import { recordOpening } from "../../flows/reconcile-opening.js";
import { requestedWindow } from "../../flows/reconcile-window.js";
import { newId } from "../../ids.js";
import { enqueueReconciliation } from "../../queue/enqueue.js";
import { callerOf } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { flowDeps } from "../flow-deps.js";
import { operation, route } from "../openapi/operation.js";
import {
  Discrepancy,
  Run,
  Snapshot,
  presentDiscrepancy,
  presentRun,
  presentSnapshot,
} from "../present-admin.js";
import { list } from "../present.js";
import { limitPerCaller } from "../rate-limit.js";
import {
  amountMinorField,
  codedAs,
  currencyField,
  pageQuery,
  requireWalletCurrency,
  toPage,
} from "../validate.js";

/** RFC 3339 with a zone, as JSON carries it; zod also refuses 2026-02-31 and T24:00. */
const timestamp = (field: string) =>
  codedAs(
    z.iso.datetime({ offset: true }),
    "invalid_field",
    `${field} must be an RFC 3339 timestamp such as 2026-11-30T00:00:00Z`,
  ).optional();

export const startReconciliationRun = operation({
  method: "post",
  path: "/admin/reconciliation/runs",
  operationId: "startReconciliationRun",
  summary:
    "Start a reconciliation run for a window (default: the last 24 hours, at most 31 days); audited. Runs never overlap: a second one waits.",
  security: "admin",
  body: z.strictObject({
    from: timestamp("from").meta({ description: "The window's start (default: 24 hours before `to`)" }),
    to: timestamp("to").meta({ description: "The window's end (default: now)" }),
  }),
  responses: {
    202: {
      description: "Queued; GET the run to follow it",
      body: z.object({ id: z.string(), status: z.literal("queued") }),
    },
  },
  errors: [429],
});

export const getReconciliationRun = operation({
  method: "get",
  path: "/admin/reconciliation/runs/{id}",
  operationId: "getReconciliationRun",
  summary: "A run with its per-currency snapshots and a page of its discrepancies",
  security: "admin",
  params: { id: "The run's id (`rec_…`)" },
  query: z.strictObject({ ...pageQuery }),
  responses: {
    200: {
      description: "The run",
      body: Run.extend({ snapshots: z.array(Snapshot), discrepancies: list(Discrepancy) }),
    },
  },
  errors: [400, 404],
});

export const listReconciliationSnapshots = operation({
  method: "get",
  path: "/admin/reconciliation/snapshots",
  operationId: "listReconciliationSnapshots",
  summary: "Per-currency balance snapshots of every run, newest first",
  security: "admin",
  query: z.strictObject({
    ...pageQuery,
    // Snapshots cover every currency Stripe holds, not only the wallets' ones.
    currency: codedAs(
      currencyField.meta({ description: "Only this currency's" }),
      "currency_invalid",
      "currency must be a known lowercase ISO 4217 code",
    ).optional(),
  }),
  responses: { 200: { description: "A page of snapshots", body: list(Snapshot) } },
  errors: [400],
});

export const recordOpeningBalance = operation({
  method: "post",
  path: "/admin/reconciliation/opening",
  operationId: "recordOpeningBalance",
  summary:
    "Record, once per wallet currency, what Stripe held before Coffer (stripe → opening_balance); audited. A repeat is 409.",
  security: "admin",
  body: z.strictObject({ currency: currencyField, amount_minor: amountMinorField }),
  responses: {
    201: {
      description: "Posted",
      body: z.object({ currency: z.string(), amount_minor: z.int(), transaction_id: z.string() }),
    },
  },
  errors: [409, 429],
});

/** Finance's routes (admin JWT): run reconciliation, read its runs and snapshots, record the cut-over. */
export function reconciliationRoutes(router: Router, deps: AppDeps): void {
  route(router, startReconciliationRun, limitPerCaller, async (ctx, { body }) => {
    const window = requestedWindow(
      body.from === undefined ? undefined : new Date(body.from),
      body.to === undefined ? undefined : new Date(body.to),
    );
    const actor = callerOf(ctx).userId;
    const run = await withTransaction(deps.db, async (trx) => {
      const created = await createRun(trx, {
        id: newId("rec"),
        trigger: "admin",
        requestedBy: actor,
        ...window,
      });
      await appendAudit(trx, {
        actor,
        action: "reconciliation.run",
        target: created.id,
        before: null,
        after: { window_start: window.from, window_end: window.to },
        requestId: ctx.state.requestId as string,
      });
      return created;
    });
    // If Redis refuses, the run stays queued and the workers' sweeper enqueues it.
    await enqueueReconciliation(deps.queues, run.id).catch((err: unknown) =>
      (ctx.state.log as AppDeps["logger"]).warn({ err, run_id: run.id }, "run stored but not enqueued"),
    );
    ctx.status = 202;
    ctx.body = { id: run.id, status: run.status };
  });

  route(router, getReconciliationRun, async (ctx, { params, query }) => {
    const page = toPage(query);
    // Run ids are ours (`rec_…`): anything else, a NUL byte included, cannot name one.
    const run = /^rec_[A-Za-z0-9_]{1,64}$/.test(params.id!) ? await getRun(deps.db, params.id!) : undefined;
    if (!run) throw httpError("not_found", "no such reconciliation run");
    const cursor = page.startingAfter === undefined ? undefined : discrepancyCursor(page.startingAfter);
    const discrepancies = await listDiscrepancies(deps.db, run.id, {
      limit: page.limit,
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = {
      ...presentRun(run),
      snapshots: (await runSnapshots(deps.db, run.id)).map(presentSnapshot),
      discrepancies: { data: discrepancies.data.map(presentDiscrepancy), has_more: discrepancies.hasMore },
    };
  });

  route(router, listReconciliationSnapshots, async (ctx, { query }) => {
    const page = toPage(query);
    const cursor = page.startingAfter === undefined ? undefined : snapshotCursor(page.startingAfter);
    const { data, hasMore } = await listSnapshots(deps.db, {
      limit: page.limit,
      ...(query.currency !== undefined && { currency: query.currency }),
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = { data: data.map(presentSnapshot), has_more: hasMore };
  });

  route(router, recordOpeningBalance, limitPerCaller, async (ctx, { body }) => {
    const currency = requireWalletCurrency(body.currency, deps.config.WALLET_CURRENCIES);
    ctx.status = 201;
    ctx.body = await recordOpening(flowDeps(deps, ctx), {
      currency,
      amountMinor: body.amount_minor,
      actor: callerOf(ctx).userId,
      requestId: ctx.state.requestId as string,
    });
  });
}

const cursorOf = (what: string) => (raw: string) => {
  if (!/^\d{1,15}$/.test(raw)) throw httpError("invalid_cursor", `starting_after must be a ${what} id`);
  return Number(raw);
};
const discrepancyCursor = cursorOf("discrepancy");
const snapshotCursor = cursorOf("snapshot");
