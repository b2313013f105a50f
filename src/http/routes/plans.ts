import type Router from "@koa/router";
import { z } from "zod";
import { listActivePlans } from "../../db/stores/plans.js";
import type { AppDeps } from "../deps.js";
import { operation, route } from "../openapi/operation.js";
import { list } from "../present.js";
import { Plan, presentPlan } from "../present-billing.js";
import { pageQuery, toPage } from "../validate.js";

export const listPlans = operation({
  method: "get",
  path: "/v1/plans",
  operationId: "listPlans",
  summary: "The plans a user may subscribe to: active Stripe Prices (and Products) in the wallet currencies",
  description:
    "Mirrored from Stripe by the plans sync (PLANS_SYNC_CRON, and as each worker starts) and by price and product webhooks in between; ordered by price id.",
  security: "user",
  query: z.strictObject({ ...pageQuery }),
  responses: { 200: { description: "A page of plans", body: list(Plan) } },
  errors: [400],
});

export function planRoutes(router: Router, deps: AppDeps): void {
  route(router, listPlans, async (ctx, { query }) => {
    const { data, hasMore } = await listActivePlans(deps.db, deps.config.WALLET_CURRENCIES, toPage(query));
    ctx.body = { data: data.map(presentPlan), has_more: hasMore };
  });
}
