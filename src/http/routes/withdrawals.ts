import type Router from "@koa/router";
import { z } from "zod";
import {
  getWithdrawal as findWithdrawal,
  listWithdrawals as listStored,
} from "../../db/stores/withdrawals.js";
import { cancelWithdrawal as cancelFlow, requestWithdrawal } from "../../flows/withdrawal-request.js";
import { callerOf } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { flowDeps } from "../flow-deps.js";
import { idempotent } from "../idempotency.js";
import { operation, route } from "../openapi/operation.js";
import {
  CreatedWithdrawal,
  Withdrawal,
  list,
  presentCreatedWithdrawal,
  presentWithdrawal,
} from "../present.js";
import { limitPerCaller } from "../rate-limit.js";
import { moneyBody, pageQuery, requireWalletCurrency, toPage } from "../validate.js";

export const createWithdrawal = operation({
  method: "post",
  path: "/v1/withdrawals",
  operationId: "createWithdrawal",
  summary:
    "Request a withdrawal: holds the whole amount; the user receives amount − fee after an admin approves it",
  description:
    "Draws only on settled funds (available − settling): beyond them 409 `funds_not_settled` with `settles_at` and `withdrawable_minor`. Also 409 `insufficient_funds`, `payouts_not_enabled` (onboard first), `currency_not_payable`; 422 `currency_mismatch` for a currency the wallet never held, `amount_below_minimum` / `amount_below_fee` against WITHDRAWAL_FEES.",
  security: "user",
  legacyAmounts: true,
  idempotent: true,
  body: moneyBody,
  responses: {
    201: { description: "Requested: pending_review, the amount held", body: CreatedWithdrawal },
  },
  errors: [409, 429, 502, 503],
});

export const listWithdrawals = operation({
  method: "get",
  path: "/v1/withdrawals",
  operationId: "listWithdrawals",
  summary: "The caller's withdrawals, newest first",
  security: "user",
  legacyAmounts: true,
  query: z.strictObject({ ...pageQuery }),
  responses: { 200: { description: "A page of withdrawals", body: list(Withdrawal) } },
  errors: [400],
});

export const getWithdrawal = operation({
  method: "get",
  path: "/v1/withdrawals/{id}",
  operationId: "getWithdrawal",
  summary: "One of the caller's withdrawals (404 if it is someone else's)",
  security: "user",
  legacyAmounts: true,
  params: { id: "The withdrawal's id" },
  responses: { 200: { description: "The withdrawal", body: Withdrawal } },
  errors: [404],
});

export const cancelWithdrawal = operation({
  method: "post",
  path: "/v1/withdrawals/{id}/cancel",
  operationId: "cancelWithdrawal",
  summary: "Cancel while pending_review; the hold is released (otherwise 409 withdrawal_not_pending)",
  security: "user",
  legacyAmounts: true,
  params: { id: "The withdrawal's id" },
  body: z.strictObject({}),
  responses: { 200: { description: "Canceled", body: Withdrawal } },
  errors: [404, 409, 429],
});

/** The user's side of withdrawals: request (holds the amount), list, read, cancel while pending. */
export function withdrawalRoutes(router: Router, deps: AppDeps): void {
  route(router, createWithdrawal, limitPerCaller, async (ctx, { body, idempotencyKey }) => {
    const { userId } = callerOf(ctx);
    // Strict: a client-sent status, fee_minor or user_id is refused (the schema), never trusted.
    const currency = requireWalletCurrency(body.currency, deps.config.WALLET_CURRENCIES);
    await idempotent(
      ctx,
      deps.db,
      "POST /v1/withdrawals",
      idempotencyKey,
      { amount_minor: body.amount_minor, currency },
      async () => {
        const wd = await requestWithdrawal(flowDeps(deps, ctx), {
          userId,
          idempotencyKey,
          amountMinor: body.amount_minor,
          currency,
        });
        return { status: 201, body: presentCreatedWithdrawal(wd) };
      },
    );
  });

  route(router, listWithdrawals, async (ctx, { query }) => {
    const { data, hasMore } = await listStored(deps.db, { userId: callerOf(ctx).userId, ...toPage(query) });
    ctx.body = { data: data.map(presentWithdrawal), has_more: hasMore };
  });

  route(router, getWithdrawal, async (ctx, { params }) => {
    const wd = await findWithdrawal(deps.db, params.id!);
    // Another user's withdrawal is indistinguishable from a missing one.
    if (!wd || wd.user_id !== callerOf(ctx).userId) throw httpError("not_found", "no such withdrawal");
    ctx.body = presentWithdrawal(wd);
  });

  route(router, cancelWithdrawal, limitPerCaller, async (ctx, { params }) => {
    const wd = await cancelFlow(flowDeps(deps, ctx), callerOf(ctx).userId, params.id!);
    ctx.body = presentWithdrawal(wd);
  });
}
