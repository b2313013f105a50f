import type Router from "@koa/router";
import { createHash } from "node:crypto";
import { getBalances } from "../../db/stores/balances.js";
import { listEntries } from "../../db/stores/ledger-entries.js";
import { callerOf } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { ENTRY_ID_PREFIX, presentBalance, presentEntry } from "../present.js";
import { pageParams } from "../validate.js";

/** The wallet the frontend polls: cheap to read and answered 304 when nothing changed. */
export function walletRoutes(router: Router, deps: AppDeps): void {
  router.get("/v1/wallet", async (ctx) => {
    const { userId } = callerOf(ctx);
    const rows = await getBalances(deps.db, userId);
    const body = { user_id: userId, balances: rows.map(presentBalance) };
    const etag = `"${createHash("sha1").update(JSON.stringify(body)).digest("base64url")}"`;
    ctx.set("ETag", etag);
    ctx.set("Cache-Control", "private, no-cache");
    if (etagMatches(ctx.get("if-none-match"), etag)) {
      ctx.status = 304;
      return;
    }
    ctx.body = body;
  });

  router.get("/v1/wallet/ledger", async (ctx) => {
    const { userId } = callerOf(ctx);
    const query = ctx.query as Record<string, unknown>;
    const page = pageParams(query, ["currency", "account"]);
    const cursor = page.startingAfter === undefined ? undefined : parseEntryId(page.startingAfter);
    const currency = typeof query.currency === "string" ? query.currency : undefined;
    const account = typeof query.account === "string" ? query.account : undefined;
    if (account !== undefined && account !== "available" && account !== "held") {
      throw httpError("invalid_field", "account must be available or held", { param: "account" });
    }
    const { data, hasMore } = await listEntries(deps.db, {
      userId,
      limit: page.limit,
      ...(currency !== undefined && { currency }),
      ...(account !== undefined && { account }),
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
