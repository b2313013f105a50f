import type Router from "@koa/router";
import type { Context, Next } from "koa";
import { getWithdrawal, listWithdrawals } from "../../db/stores/withdrawals.js";
import { cancelWithdrawal, requestWithdrawal } from "../../flows/withdrawal-request.js";
import { callerOf } from "../auth.js";
import { readJsonBody } from "../body.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { flowDeps } from "../flow-deps.js";
import { idempotent, requireIdempotencyKey } from "../idempotency.js";
import { presentWithdrawal } from "../present.js";
import { amountMinor, objectWithOnly, pageParams, walletCurrency } from "../validate.js";

/** The user's side of withdrawals: request (holds the amount), list, read, cancel while pending. */
export function withdrawalRoutes(
  router: Router,
  deps: AppDeps,
  limiter: (ctx: Context, next: Next) => Promise<void>,
): void {
  router.post("/v1/withdrawals", limiter, async (ctx) => {
    const { userId } = callerOf(ctx);
    const key = requireIdempotencyKey(ctx);
    // Strict: a client-sent status, fee_minor or user_id is refused, never trusted.
    const body = objectWithOnly(await readJsonBody(ctx), ["amount_minor", "currency"]);
    const amount = amountMinor(body.amount_minor);
    const currency = walletCurrency(body.currency, deps.config.WALLET_CURRENCIES);
    await idempotent(
      ctx,
      deps.db,
      "POST /v1/withdrawals",
      key,
      { amount_minor: amount, currency },
      async () => {
        const wd = await requestWithdrawal(flowDeps(deps, ctx), {
          userId,
          idempotencyKey: key,
          amountMinor: amount,
          currency,
        });
        const { id, status, amount_minor, fee_minor, net_minor } = presentWithdrawal(wd);
        return {
          status: 201,
          body: { id, status, amount_minor, fee_minor, net_minor, currency: wd.currency },
        };
      },
    );
  });

  router.get("/v1/withdrawals", async (ctx) => {
    const page = pageParams(ctx.query as Record<string, unknown>);
    const { data, hasMore } = await listWithdrawals(deps.db, { userId: callerOf(ctx).userId, ...page });
    ctx.body = { data: data.map(presentWithdrawal), has_more: hasMore };
  });

  router.get("/v1/withdrawals/:id", async (ctx) => {
    const wd = await getWithdrawal(deps.db, ctx.params.id!);
    // Another user's withdrawal is indistinguishable from a missing one.
    if (!wd || wd.user_id !== callerOf(ctx).userId) throw httpError("not_found", "no such withdrawal");
    ctx.body = presentWithdrawal(wd);
  });

  router.post("/v1/withdrawals/:id/cancel", async (ctx) => {
    objectWithOnly(await readJsonBody(ctx), []);
    const wd = await cancelWithdrawal(flowDeps(deps, ctx), callerOf(ctx).userId, ctx.params.id!);
    ctx.body = presentWithdrawal(wd);
  });
}
