import type Router from "@koa/router";
import { z } from "zod";
import { getSubscriptionForUser, listSubscriptions as listRows } from "../../db/stores/subscriptions.js";
import { createSetup } from "../../flows/subscribe.js";
import { cancelAtPeriodEnd } from "../../flows/subscription-cancel.js";
import { callerOf } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { flowDeps } from "../flow-deps.js";
import { idempotent } from "../idempotency.js";
import { operation, route } from "../openapi/operation.js";
import { list } from "../present.js";
import { limitPerCaller } from "../rate-limit.js";
import {
  CreatedSubscriptionSetup,
  Subscription,
  presentCreatedSetup,
  presentSubscription,
} from "../present-billing.js";
import { codedAs, pageQuery, toPage } from "../validate.js";

/** A Stripe id as Coffer stores it: 1–255 printable ASCII characters, nothing else. */
const priceId = codedAs(
  z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/)
    .meta({ description: "A price from GET /v1/plans (`price_…`)" }),
  "invalid_field",
  "price_id must be a Stripe price id from GET /v1/plans",
);

export const createSubscription = operation({
  method: "post",
  path: "/v1/subscriptions",
  operationId: "createSubscription",
  summary: "Subscribe to a plan: a SetupIntent to save the card (SCA-ready); Stripe Billing then charges it",
  description:
    "The subscription is made once Stripe reports the card saved (setup_intent.succeeded), with the plan's trial; it then shows in GET /v1/subscriptions with this setup's id. 422 `price_unavailable` for an unknown or inactive price, 422 `currency_not_supported` for a price outside the wallet currencies, 409 `already_subscribed` while the caller holds the price.",
  security: "user",
  idempotent: true,
  body: z.strictObject({ price_id: priceId }),
  responses: {
    201: { description: "The setup, with the SetupIntent's client secret", body: CreatedSubscriptionSetup },
  },
  errors: [409, 429, 502, 503],
});

export const listSubscriptions = operation({
  method: "get",
  path: "/v1/subscriptions",
  operationId: "listSubscriptions",
  summary: "The caller's subscriptions, newest first, as Stripe last reported them",
  security: "user",
  query: z.strictObject({ ...pageQuery }),
  responses: { 200: { description: "A page of subscriptions", body: list(Subscription) } },
  errors: [400],
});

export const getSubscription = operation({
  method: "get",
  path: "/v1/subscriptions/{id}",
  operationId: "getSubscription",
  summary: "One of the caller's subscriptions; another user's is 404",
  security: "user",
  params: { id: "The subscription (`sub_…`)" },
  responses: { 200: { description: "The subscription", body: Subscription } },
  errors: [404],
});

export const cancelSubscription = operation({
  method: "delete",
  path: "/v1/subscriptions/{id}",
  operationId: "cancelSubscription",
  summary:
    "Cancel at the end of the current period (Stripe's cancel_at_period_end); answers the updated subscription",
  description:
    "A repeat, or a subscription that ended, is 409 `subscription_not_cancelable`; another user's is 404.",
  security: "user",
  params: { id: "The subscription (`sub_…`)" },
  responses: { 200: { description: "The subscription, set to cancel at period end", body: Subscription } },
  errors: [404, 409, 429, 502, 503],
});

/** The routes that call Stripe carry the per-caller rate limit (RATE_LIMIT_PER_MINUTE). */
export function subscriptionRoutes(router: Router, deps: AppDeps): void {
  route(router, createSubscription, limitPerCaller, async (ctx, { body, idempotencyKey }) => {
    const { userId } = callerOf(ctx);
    await idempotent(ctx, deps.db, "POST /v1/subscriptions", idempotencyKey, body, async () => {
      const row = await createSetup(flowDeps(deps, ctx), { userId, idempotencyKey, priceId: body.price_id });
      return { status: 201, body: presentCreatedSetup(row) };
    });
  });

  route(router, listSubscriptions, async (ctx, { query }) => {
    const { data, hasMore } = await listRows(deps.db, callerOf(ctx).userId, toPage(query));
    ctx.body = { data: data.map(presentSubscription), has_more: hasMore };
  });

  route(router, getSubscription, async (ctx, { params }) => {
    // Another user's subscription is indistinguishable from a missing one.
    const row = await getSubscriptionForUser(deps.db, callerOf(ctx).userId, params.id!);
    if (!row) throw httpError("not_found", "no such subscription");
    ctx.body = presentSubscription(row);
  });

  route(router, cancelSubscription, limitPerCaller, async (ctx, { params }) => {
    ctx.body = presentSubscription(
      await cancelAtPeriodEnd(flowDeps(deps, ctx), callerOf(ctx).userId, params.id!),
    );
  });
}
