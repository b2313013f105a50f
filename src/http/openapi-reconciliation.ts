import { RUN_STATUSES, RUN_TRIGGERS } from "../db/stores/reconciliation.js";
import { admin, error, ok, page, pathId, money } from "./openapi-parts.js";

/** Finance's part of the API: reconciliation runs, their findings, snapshots and the cut-over. */
const int = { type: "integer" };
const timestamp = { type: "string", format: "date-time" };
const snapshot = {
  type: "object",
  properties: {
    id: { type: "string" },
    run_id: { type: "string" },
    currency: money.currency,
    stripe_available_minor: int,
    stripe_pending_minor: int,
    ledger_position_minor: {
      ...int,
      description: "What the books say Stripe holds: minus the `stripe` account",
    },
    difference_minor: { ...int, description: "Stripe (available + pending) minus the ledger position" },
    status: { type: "string", enum: ["matched", "mismatch"] },
    stripe_matched: int,
    stripe_unmatched: int,
    ledger_matched: int,
    ledger_unmatched: int,
    healed_events: int,
    opening_balance_minor: { ...int, description: "Left in the cut-over clearing account; drains to 0" },
    fx_exposure_minor: { ...int, description: "Balance of the `fx` account: open conversion exposure" },
    window_start: timestamp,
    window_end: timestamp,
  },
};
const discrepancy = {
  type: "object",
  properties: {
    id: { type: "string" },
    side: { type: "string", enum: ["stripe", "ledger"], description: "Which side has what the other lacks" },
    stripe_id: { type: ["string", "null"], description: "The balance transaction (txn_…)" },
    ledger_transaction_id: { type: ["string", "null"] },
    ledger_key: { type: ["string", "null"] },
    type: { type: "string" },
    amount_minor: int,
    currency: money.currency,
    reason: { type: "string", description: "What is wrong and what to do; see the README runbook" },
  },
};
const run = {
  type: "object",
  properties: {
    id: { type: "string" },
    status: { type: "string", enum: RUN_STATUSES },
    trigger: { type: "string", enum: RUN_TRIGGERS },
    window_start: timestamp,
    window_end: timestamp,
    stripe_matched: { type: ["integer", "null"] },
    stripe_unmatched: { type: ["integer", "null"] },
    ledger_matched: { type: ["integer", "null"] },
    ledger_unmatched: { type: ["integer", "null"] },
    healed_events: { type: "array", items: { type: "object" } },
    error: { type: ["string", "null"] },
    snapshots: { type: "array", items: snapshot },
    discrepancies: {
      type: "object",
      properties: { data: { type: "array", items: discrepancy }, has_more: { type: "boolean" } },
    },
  },
};
const jsonBody = (schema: object) => ({ required: true, content: { "application/json": { schema } } });

export const RECONCILIATION_PATHS = {
  "/admin/reconciliation/runs": {
    post: {
      ...admin,
      summary:
        "Start a reconciliation run for a window (default: the last 24 hours, at most 31 days); audited. Runs never overlap: a second one waits.",
      requestBody: jsonBody({
        type: "object",
        additionalProperties: false,
        properties: { from: timestamp, to: timestamp },
      }),
      responses: {
        "202": ok({
          type: "object",
          properties: { id: { type: "string" }, status: { type: "string", enum: ["queued"] } },
        }),
        "401": error,
        "403": error,
        "422": error,
      },
    },
  },
  "/admin/reconciliation/runs/{id}": {
    get: {
      ...admin,
      summary: "A run with its per-currency snapshots and its discrepancies (cursor-paginated)",
      parameters: [pathId, ...page],
      responses: { "200": ok(run), "401": error, "403": error, "404": error },
    },
  },
  "/admin/reconciliation/snapshots": {
    get: {
      ...admin,
      summary: "Per-currency balance snapshots of every run, newest first",
      parameters: [...page, { name: "currency", in: "query", schema: money.currency }],
      responses: {
        "200": ok({
          type: "object",
          properties: { data: { type: "array", items: snapshot }, has_more: { type: "boolean" } },
        }),
        "401": error,
        "403": error,
        "422": error,
      },
    },
  },
  "/admin/reconciliation/opening": {
    post: {
      ...admin,
      summary:
        "Record, once per currency, what Stripe held before Coffer (stripe → opening_balance); audited. A repeat is 409.",
      requestBody: jsonBody({
        type: "object",
        additionalProperties: false,
        required: ["currency", "amount_minor"],
        properties: money,
      }),
      responses: {
        "201": ok({
          type: "object",
          properties: { currency: money.currency, amount_minor: int, transaction_id: { type: "string" } },
        }),
        "401": error,
        "403": error,
        "409": error,
        "422": error,
      },
    },
  },
};
