import type Router from "@koa/router";
import { z } from "zod";
import { listAudit } from "../../db/stores/audit.js";
import { getBalances } from "../../db/stores/balances.js";
import { listEntries } from "../../db/stores/ledger-entries.js";
import { checkInvariants } from "../../db/stores/ledger-checks.js";
import { adminSummary as summaryOf } from "../../db/stores/summary.js";
import { userExists } from "../../db/stores/users.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { operation, route } from "../openapi/operation.js";
import { AdminSummary, AuditEntry, LedgerCheck, presentAudit, presentSummary } from "../present-admin.js";
import { LedgerEntry, Wallet, list, presentBalance, presentEntry } from "../present.js";
import { pageQuery, toPage } from "../validate.js";
import { parseEntryId } from "./wallet.js";

/** What admins read: the books' totals, one user's wallet and ledger, the invariants, the audit log. */
export const adminSummary = operation({
  method: "get",
  path: "/admin/summary",
  operationId: "adminSummary",
  summary:
    "Totals per currency (users' available, held, pending; Stripe's position; fees; dispute reserve), pending withdrawals, failed events, the last reconciliation",
  security: "admin",
  responses: { 200: { description: "The summary", body: AdminSummary } },
});

const user = { id: "The user's id (the token `sub` they use)" };

export const adminGetUserWallet = operation({
  method: "get",
  path: "/admin/users/{id}/wallet",
  operationId: "adminGetUserWallet",
  summary: "A user's balances (404 for a user Coffer has never seen)",
  security: "admin",
  params: user,
  responses: { 200: { description: "The user's wallet", body: Wallet } },
  errors: [404],
});

export const adminListUserLedger = operation({
  method: "get",
  path: "/admin/users/{id}/ledger",
  operationId: "adminListUserLedger",
  summary: "A user's ledger entries, newest first (404 for a user Coffer has never seen)",
  security: "admin",
  params: user,
  query: z.strictObject({
    ...pageQuery,
    currency: z.string().optional().meta({ description: "Only entries in this currency" }),
  }),
  responses: { 200: { description: "A page of entries", body: list(LedgerEntry) } },
  errors: [400, 404],
});

export const adminCheckLedger = operation({
  method: "get",
  path: "/admin/ledger/check",
  operationId: "adminCheckLedger",
  summary: "Every ledger invariant over the whole book; lists negative wallets",
  security: "admin",
  responses: {
    200: { description: "Every invariant holds", body: LedgerCheck },
    409: { description: "A violation: each one listed", body: LedgerCheck },
  },
});

export const adminListAuditLog = operation({
  method: "get",
  path: "/admin/audit-log",
  operationId: "adminListAuditLog",
  summary: "The append-only admin audit log, newest first",
  security: "admin",
  query: z.strictObject({ ...pageQuery }),
  responses: { 200: { description: "A page of audit entries", body: list(AuditEntry) } },
  errors: [400],
});

export function adminViewRoutes(router: Router, deps: AppDeps): void {
  route(router, adminSummary, async (ctx) => {
    ctx.body = presentSummary(await summaryOf(deps.db));
  });

  route(router, adminGetUserWallet, async (ctx, { params }) => {
    if (!(await userExists(deps.db, params.id!))) throw httpError("not_found", "no such user");
    const rows = await getBalances(deps.db, params.id!);
    ctx.body = { user_id: params.id!, balances: rows.map(presentBalance) } satisfies z.output<typeof Wallet>;
  });

  route(router, adminListUserLedger, async (ctx, { params, query }) => {
    const page = toPage(query);
    if (!(await userExists(deps.db, params.id!))) throw httpError("not_found", "no such user");
    const cursor = page.startingAfter === undefined ? undefined : parseEntryId(page.startingAfter);
    const { data, hasMore } = await listEntries(deps.db, {
      userId: params.id!,
      limit: page.limit,
      ...(query.currency !== undefined && { currency: query.currency }),
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = { data: data.map(presentEntry), has_more: hasMore };
  });

  route(router, adminCheckLedger, async (ctx) => {
    const report = await checkInvariants(deps.db);
    ctx.status = report.ok ? 200 : 409;
    ctx.body = report satisfies z.output<typeof LedgerCheck>;
  });

  route(router, adminListAuditLog, async (ctx, { query }) => {
    const page = toPage(query);
    const cursor = page.startingAfter === undefined ? undefined : Number(page.startingAfter);
    if (cursor !== undefined && !Number.isSafeInteger(cursor))
      throw httpError("invalid_cursor", "starting_after must be an audit entry id");
    const { data, hasMore } = await listAudit(deps.db, {
      limit: page.limit,
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = { data: data.map(presentAudit), has_more: hasMore };
  });
}
