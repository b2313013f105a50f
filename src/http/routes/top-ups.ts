import type Router from "@koa/router";
import { z } from "zod";
import { getTopUpForUser, listTopUps } from "../../db/stores/top-ups.js";
import { createTopUp as createTopUpFlow } from "../../flows/top-up.js";
import { callerOf } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { idempotent } from "../idempotency.js";
import { operation, route } from "../openapi/operation.js";
import { CreatedTopUp, TopUp, list, presentCreatedTopUp, presentTopUp } from "../present.js";
import { limitPerCaller } from "../rate-limit.js";
import { moneyBody, pageQuery, requireWalletCurrency, toPage, withinChargeLimits } from "../validate.js";

export const createTopUp = operation({
  method: "post",
  path: "/v1/wallet/top-ups",
  operationId: "createTopUp",
  summary:
    "Start a top-up: creates a Stripe PaymentIntent; the wallet is credited when Stripe reports the payment",
  description:
    "`currency` must be one of the deployment's WALLET_CURRENCIES (422 currency_not_supported), and the amount within Stripe's per-charge limits for it (422 amount_below_minimum, amount_above_maximum; three-decimal currencies in multiples of 10).",
  security: "user",
  legacyAmounts: true,
  idempotent: true,
  body: moneyBody,
  responses: { 201: { description: "Created: confirm it with the client_secret", body: CreatedTopUp } },
  errors: [409, 429, 502, 503],
});

export const listTopUpsOp = operation({
  method: "get",
  path: "/v1/wallet/top-ups",
  operationId: "listTopUps",
  summary: "The caller's top-ups, newest first",
  security: "user",
  legacyAmounts: true,
  query: z.strictObject({ ...pageQuery }),
  responses: { 200: { description: "A page of top-ups", body: list(TopUp) } },
  errors: [400],
});

export const getTopUp = operation({
  method: "get",
  path: "/v1/wallet/top-ups/{id}",
  operationId: "getTopUp",
  summary: "One of the caller's top-ups (404 if it is someone else's)",
  security: "user",
  legacyAmounts: true,
  params: { id: "The top-up's id" },
  responses: { 200: { description: "The top-up", body: TopUp } },
  errors: [404],
});

export function topUpRoutes(router: Router, deps: AppDeps): void {
  const flowDeps = {
    config: deps.config,
    db: deps.db,
    stripe: deps.stripe,
    metrics: deps.metrics,
    log: deps.logger,
  };

  route(router, createTopUp, limitPerCaller, async (ctx, { body, idempotencyKey }) => {
    const { userId } = callerOf(ctx);
    // Everything is validated before the idempotency claim, so a bad request writes nothing.
    const currency = requireWalletCurrency(body.currency, deps.config.WALLET_CURRENCIES);
    withinChargeLimits(body.amount_minor, currency);
    await idempotent(
      ctx,
      deps.db,
      "POST /v1/wallet/top-ups",
      idempotencyKey,
      { amount_minor: body.amount_minor, currency },
      async () => {
        const row = await createTopUpFlow(
          { ...flowDeps, log: ctx.state.log },
          { userId, idempotencyKey, amountMinor: body.amount_minor, currency },
        );
        return { status: 201, body: presentCreatedTopUp(row) };
      },
    );
  });

  route(router, listTopUpsOp, async (ctx, { query }) => {
    const { data, hasMore } = await listTopUps(deps.db, callerOf(ctx).userId, toPage(query));
    ctx.body = { data: data.map(presentTopUp), has_more: hasMore };
  });

  route(router, getTopUp, async (ctx, { params }) => {
    // Another user's top-up is indistinguishable from a missing one: 404 either way.
    const row = await getTopUpForUser(deps.db, callerOf(ctx).userId, params.id!);
    if (!row || row.purpose !== "wallet_top_up") throw httpError("not_found", "no such top-up");
    ctx.body = presentTopUp(row);
  });
}
