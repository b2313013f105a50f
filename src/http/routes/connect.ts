import type Router from "@koa/router";
import { z } from "zod";
import { getConnectedAccount as findAccount } from "../../db/stores/connected-accounts.js";
import { createBankSession, listBankAccounts as listBanks } from "../../flows/bank-accounts.js";
import { onboard } from "../../flows/connect.js";
import { callerOf } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { flowDeps } from "../flow-deps.js";
import { operation, route } from "../openapi/operation.js";
import { BankAccount, BankSession, ConnectedAccount, Onboarding, list } from "../present.js";
import { limitPerCaller } from "../rate-limit.js";

/** Nothing at all: account or routing numbers sent here are refused, not stored. */
const noFields = z.strictObject({});

export const createConnectedAccount = operation({
  method: "post",
  path: "/v1/connect/account",
  operationId: "createConnectedAccount",
  summary:
    "Create (once) the caller's connected account (Express, or Custom with CONNECT_ACCOUNT_TYPE=custom) and a fresh onboarding link",
  security: "user",
  body: noFields,
  responses: { 200: { description: "The account and a fresh onboarding link", body: Onboarding } },
  errors: [429, 502, 503],
});

export const getConnectedAccount = operation({
  method: "get",
  path: "/v1/connect/account",
  operationId: "getConnectedAccount",
  summary: "The caller's connected account as Stripe last reported it (404 before onboarding)",
  security: "user",
  responses: { 200: { description: "The account", body: ConnectedAccount } },
  errors: [404],
});

export const createBankAccountSession = operation({
  method: "post",
  path: "/v1/bank-accounts/session",
  operationId: "createBankAccountSession",
  summary:
    "A Stripe Financial Connections session for linking the payout bank account of a Custom connected account; the bank becomes the account's default for its currency",
  description:
    "409 `connect_account_required` before onboarding. 409 `bank_managed_by_stripe` for an Express account: Stripe collects its bank account in the onboarding link from POST /v1/connect/account, and the user changes it in Stripe's Express dashboard.",
  security: "user",
  body: noFields,
  responses: { 200: { description: "The session", body: BankSession } },
  errors: [409, 429, 502, 503],
});

export const listBankAccounts = operation({
  method: "get",
  path: "/v1/bank-accounts",
  operationId: "listBankAccounts",
  summary:
    "The connected account's external bank accounts, where payouts go, mirrored from Stripe: references, last4 and bank name only",
  security: "user",
  responses: { 200: { description: "Every bank account (one page)", body: list(BankAccount) } },
});

/** Stripe Connect onboarding and bank account linking (Stripe references only, never numbers). */
export function connectRoutes(router: Router, deps: AppDeps): void {
  route(router, createConnectedAccount, limitPerCaller, async (ctx) => {
    ctx.body = await onboard(flowDeps(deps, ctx), callerOf(ctx).userId);
  });

  route(router, getConnectedAccount, async (ctx) => {
    const row = await findAccount(deps.db, callerOf(ctx).userId);
    if (!row) throw httpError("not_found", "no connected account yet: POST /v1/connect/account");
    ctx.body = {
      account_id: row.account_id,
      charges_enabled: row.charges_enabled,
      payouts_enabled: row.payouts_enabled,
      requirements_due: row.requirements_due,
    } satisfies z.output<typeof ConnectedAccount>;
  });

  route(router, createBankAccountSession, limitPerCaller, async (ctx) => {
    ctx.body = await createBankSession(flowDeps(deps, ctx), callerOf(ctx).userId);
  });

  route(router, listBankAccounts, async (ctx) => {
    ctx.body = { data: await listBanks(flowDeps(deps, ctx), callerOf(ctx).userId), has_more: false };
  });
}
