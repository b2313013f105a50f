import type Router from "@koa/router";
import { createHash } from "node:crypto";
import { z } from "zod";
import { getBalances } from "../../db/stores/balances.js";
import { listEntries } from "../../db/stores/ledger-entries.js";
import { callerOf } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { operation, route } from "../openapi/operation.js";
import { ENTRY_ID_PREFIX, LedgerEntry, Wallet, list, presentBalance, presentEntry } from "../present.js";
import { codedAs, pageQuery, toPage } from "../validate.js";

export const getWallet = operation({
  method: "get",
  path: "/v1/wallet",
  operationId: "getWallet",
  summary: "The caller's balances, per currency; If-None-Match with the ETag answers 304",
  security: "user",
  legacyAmounts: true,
  headers: {
    "If-None-Match": {
      required: false,
      description: "An ETag from an earlier answer (several, weak ones or `*` too)",
      schema: z.string(),
    },
  },
  responses: {
    200: { description: "The wallet", body: Wallet, headers: ["ETag", "Cache-Control"] },
    304: { description: "Not modified since the ETag sent", headers: ["ETag", "Cache-Control"] },
  },
});

export const listWalletLedger = operation({
  method: "get",
  path: "/v1/wallet/ledger",
  operationId: "listWalletLedger",
  summary: "The caller's ledger entries, newest first",
  security: "user",
  query: z.strictObject({
    ...pageQuery,
    // Not checked against the currencies: an unknown one simply has no entries.
    currency: z.string().optional().meta({ description: "Only entries in this currency" }),
    account: codedAs(
      z.enum(["available", "held"]).meta({ description: "Only entries of this bucket" }),
      "invalid_field",
      "account must be available or held",
    ).optional(),
  }),
  responses: { 200: { description: "A page of entries", body: list(LedgerEntry) } },
  errors: [400],
});

/** The wallet the frontend polls: cheap to read and answered 304 when nothing changed. */
export function walletRoutes(router: Router, deps: AppDeps): void {
  route(router, getWallet, async (ctx) => {
    const { userId } = callerOf(ctx);
    const rows = await getBalances(deps.db, userId);
    const body: z.output<typeof Wallet> = { user_id: userId, balances: rows.map(presentBalance) };
    const etag = `"${createHash("sha1").update(JSON.stringify(body)).digest("base64url")}"`;
    ctx.set("ETag", etag);
    ctx.set("Cache-Control", "private, no-cache");
    if (etagMatches(ctx.get("if-none-match"), etag)) {
      ctx.status = 304;
      return;
    }
    ctx.body = body;
  });

  route(router, listWalletLedger, async (ctx, { query }) => {
    const { userId } = callerOf(ctx);
    const page = toPage(query);
    const cursor = page.startingAfter === undefined ? undefined : parseEntryId(page.startingAfter);
    const { data, hasMore } = await listEntries(deps.db, {
      userId,
      limit: page.limit,
      ...(query.currency !== undefined && { currency: query.currency }),
      ...(query.account !== undefined && { account: query.account }),
      ...(cursor !== undefined && { startingAfter: cursor }),
    });
    ctx.body = { data: data.map(presentEntry), has_more: hasMore };
  });
}

export function parseEntryId(id: string): number {
  const n = id.startsWith(ENTRY_ID_PREFIX) ? Number(id.slice(ENTRY_ID_PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw httpError("invalid_cursor", "starting_after must be a ledger entry id");
  return n;
}

/** If-None-Match may list several tags, or weak ones (`W/"…"`): any match means not modified. */
function etagMatches(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}
