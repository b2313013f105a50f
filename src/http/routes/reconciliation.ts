import type Router from "@koa/router";
import { appendAudit } from "../../db/stores/audit.js";
import {
  createRun,
  getRun,
  listDiscrepancies,
  listSnapshots,
  runSnapshots,
  type RunRow,
  type SnapshotRow,
} from "../../db/stores/reconciliation.js";
import { withTransaction } from "../../db/transaction.js";
import { recordOpening } from "../../flows/reconcile-opening.js";
import { requestedWindow } from "../../flows/reconcile-window.js";
import { newId } from "../../ids.js";
import { isKnownCurrency } from "../../money/currencies.js";
import { enqueueReconciliation } from "../../queue/enqueue.js";
import { callerOf } from "../auth.js";
import { readJsonBody } from "../body.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { flowDeps } from "../flow-deps.js";
import { amountMinor, objectWithOnly, pageParams, walletCurrency } from "../validate.js";

/** Finance's routes (admin JWT): run reconciliation, read its runs and snapshots, record the cut-over. */
export function reconciliationRoutes(router: Router, deps: AppDeps): void {
  router.post("/admin/reconciliation/runs", async (ctx) => {
    const body = objectWithOnly(await readJsonBody(ctx), ["from", "to"]);
    const window = requestedWindow(timestamp(body.from, "from"), timestamp(body.to, "to"));
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

  router.get("/admin/reconciliation/runs/:id", async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    const page = pageParams(query);
    // Run ids are ours (`rec_…`): anything else, a NUL byte included, cannot name one.
    const id = ctx.params.id!;
    const run = /^rec_[A-Za-z0-9_]{1,64}$/.test(id) ? await getRun(deps.db, id) : undefined;
    if (!run) throw httpError("not_found", "no such reconciliation run");
    const cursor = page.startingAfter === undefined ? undefined : discrepancyCursor(page.startingAfter);
    const discrepancies = await listDiscrepancies(deps.db, run.id, {
      limit: page.limit,
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = {
      ...presentRun(run),
      snapshots: (await runSnapshots(deps.db, run.id)).map(presentSnapshot),
      discrepancies: {
        data: discrepancies.data.map((d) => ({
          ...d,
          id: String(d.id),
          ledger_transaction_id: d.ledger_transaction_id === null ? null : String(d.ledger_transaction_id),
        })),
        has_more: discrepancies.hasMore,
      },
    };
  });

  router.get("/admin/reconciliation/snapshots", async (ctx) => {
    const query = ctx.query as Record<string, unknown>;
    const page = pageParams(query, ["currency"]);
    const currency = query.currency === undefined ? undefined : knownCurrency(query.currency);
    const cursor = page.startingAfter === undefined ? undefined : snapshotCursor(page.startingAfter);
    const { data, hasMore } = await listSnapshots(deps.db, {
      limit: page.limit,
      ...(currency !== undefined && { currency }),
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = { data: data.map(presentSnapshot), has_more: hasMore };
  });

  router.post("/admin/reconciliation/opening", async (ctx) => {
    const body = objectWithOnly(await readJsonBody(ctx), ["currency", "amount_minor"]);
    const currency = walletCurrency(body.currency, deps.config.WALLET_CURRENCIES);
    const amount = amountMinor(body.amount_minor);
    ctx.status = 201;
    ctx.body = await recordOpening(flowDeps(deps, ctx), {
      currency,
      amountMinor: amount,
      actor: callerOf(ctx).userId,
      requestId: ctx.state.requestId as string,
    });
  });
}

/** Ids as strings (bigint in Postgres), and without the internal `details` column. */
const presentSnapshot = ({ details: _details, ...s }: SnapshotRow & { id?: number; details?: unknown }) => ({
  ...s,
  ...(s.id !== undefined && { id: String(s.id) }),
});

export const presentRun = (r: RunRow) => ({
  id: r.id,
  status: r.status,
  trigger: r.trigger,
  requested_by: r.requested_by,
  window_start: r.window_start,
  window_end: r.window_end,
  stripe_matched: r.stripe_matched,
  stripe_unmatched: r.stripe_unmatched,
  ledger_matched: r.ledger_matched,
  ledger_unmatched: r.ledger_unmatched,
  healed_events: r.healed_events,
  error: r.error,
  started_at: r.started_at,
  finished_at: r.finished_at,
});

/** An RFC 3339 timestamp with a zone, as JSON carries it; anything else is a 422 naming the field. */
function timestamp(v: unknown, field: string): Date | undefined {
  if (v === undefined) return undefined;
  const m =
    typeof v === "string"
      ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/.exec(v)
      : null;
  // Date would roll 2026-02-31 over to March 3 and T24:00 to the next day: a window other than asked.
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0] = (m?.slice(1) ?? []).map((x) => Number(x ?? 0));
  const calendar = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  const real =
    m !== null &&
    calendar.getUTCMonth() === mo - 1 &&
    calendar.getUTCDate() === d &&
    calendar.getUTCHours() === h &&
    calendar.getUTCMinutes() === mi &&
    calendar.getUTCSeconds() === sec;
  const date = real ? new Date(v as string) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw httpError("invalid_field", `${field} must be an RFC 3339 timestamp such as 2026-11-30T00:00:00Z`, {
      param: field,
    });
  }
  return date;
}

/** Snapshots cover every currency Stripe holds, not only the wallets' ones. */
function knownCurrency(v: unknown): string {
  if (typeof v !== "string" || !isKnownCurrency(v)) {
    throw httpError("currency_invalid", "currency must be a known lowercase ISO 4217 code", {
      param: "currency",
    });
  }
  return v;
}

const cursorOf = (what: string) => (raw: string) => {
  if (!/^\d{1,15}$/.test(raw)) throw httpError("invalid_cursor", `starting_after must be a ${what} id`);
  return Number(raw);
};
const discrepancyCursor = cursorOf("discrepancy");
const snapshotCursor = cursorOf("snapshot");
