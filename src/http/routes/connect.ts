import type Router from "@koa/router";
import { getConnectedAccount } from "../../db/stores/connected-accounts.js";
import { createBankSession, listBankAccounts } from "../../flows/bank-accounts.js";
import { onboard } from "../../flows/connect.js";
import { callerOf } from "../auth.js";
import { readJsonBody } from "../body.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { flowDeps } from "../flow-deps.js";
import { objectWithOnly } from "../validate.js";

/** Stripe Connect onboarding and bank account linking (Stripe references only, never numbers). */
export function connectRoutes(router: Router, deps: AppDeps): void {
  router.post("/v1/connect/account", async (ctx) => {
    objectWithOnly(await readJsonBody(ctx), []);
    ctx.body = await onboard(flowDeps(deps, ctx), callerOf(ctx).userId);
  });

  router.get("/v1/connect/account", async (ctx) => {
    const row = await getConnectedAccount(deps.db, callerOf(ctx).userId);
    if (!row) throw httpError("not_found", "no connected account yet: POST /v1/connect/account");
    ctx.body = {
      account_id: row.account_id,
      charges_enabled: row.charges_enabled,
      payouts_enabled: row.payouts_enabled,
      requirements_due: row.requirements_due,
    };
  });

  router.post("/v1/bank-accounts/session", async (ctx) => {
    // No fields at all: account or routing numbers sent here are refused, not stored.
    objectWithOnly(await readJsonBody(ctx), []);
    ctx.body = await createBankSession(flowDeps(deps, ctx), callerOf(ctx).userId);
  });

  router.get("/v1/bank-accounts", async (ctx) => {
    ctx.body = { data: await listBankAccounts(flowDeps(deps, ctx), callerOf(ctx).userId), has_more: false };
  });
}
