import type Router from "@koa/router";
import { getTopUpForUser, listTopUps } from "../../db/stores/top-ups.js";
import { createTopUp } from "../../flows/top-up.js";
import { callerOf } from "../auth.js";
import { readJsonBody } from "../body.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { idempotent, requireIdempotencyKey } from "../idempotency.js";
import { presentCreatedTopUp, presentTopUp } from "../present.js";
import type { Context, Next } from "koa";
import { amountMinor, objectWithOnly, pageParams, walletCurrency, withinChargeLimits } from "../validate.js";

export function topUpRoutes(
  router: Router,
  deps: AppDeps,
  limiter: (ctx: Context, next: Next) => Promise<void>,
): void {
  const flowDeps = {
    config: deps.config,
    db: deps.db,
    stripe: deps.stripe,
    metrics: deps.metrics,
    log: deps.logger,
  };

  router.post("/v1/wallet/top-ups", limiter, async (ctx) => {
    const { userId } = callerOf(ctx);
    // Everything is validated before the idempotency claim, so a bad request writes nothing.
    const key = requireIdempotencyKey(ctx);
    const body = objectWithOnly(await readJsonBody(ctx), ["amount_minor", "currency"]);
    const amount = amountMinor(body.amount_minor);
    const currency = walletCurrency(body.currency, deps.config.WALLET_CURRENCIES);
    withinChargeLimits(amount, currency);
    await idempotent(
      ctx,
      deps.db,
      "POST /v1/wallet/top-ups",
      key,
      { amount_minor: amount, currency },
      async () => {
        const row = await createTopUp(
          { ...flowDeps, log: ctx.state.log },
          { userId, idempotencyKey: key, amountMinor: amount, currency },
        );
        return { status: 201, body: presentCreatedTopUp(row) };
      },
    );
  });

  router.get("/v1/wallet/top-ups", async (ctx) => {
    const page = pageParams(ctx.query as Record<string, unknown>);
    const { data, hasMore } = await listTopUps(deps.db, callerOf(ctx).userId, page);
    ctx.body = { data: data.map(presentTopUp), has_more: hasMore };
  });

  router.get("/v1/wallet/top-ups/:id", async (ctx) => {
    // Another user's top-up is indistinguishable from a missing one: 404 either way.
    const row = await getTopUpForUser(deps.db, callerOf(ctx).userId, ctx.params.id!);
    if (!row || row.purpose !== "wallet_top_up") throw httpError("not_found", "no such top-up");
    ctx.body = presentTopUp(row);
  });
}
