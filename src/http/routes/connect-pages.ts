import type Router from "@koa/router";
import { z } from "zod";
import { refreshOnboardingLink } from "../../flows/connect.js";
import type { AppDeps } from "../deps.js";
import { flowDeps } from "../flow-deps.js";
import { operation, route } from "../openapi/operation.js";
import { limitAsUser } from "../rate-limit.js";

/**
 * The two pages Stripe sends a user's browser to from Connect onboarding (the account link's
 * return_url and refresh_url; CONNECT_RETURN_URL / CONNECT_REFRESH_URL, by default under
 * PUBLIC_URL). A browser carries no bearer token here, so neither page trusts the caller: the
 * return page shows no account data, and the refresh page acts only for the account its signed
 * token names (src/flows/connect-link-token.ts).
 */
export const connectReturnPage = operation({
  method: "get",
  path: "/connect/return",
  operationId: "connectReturnPage",
  summary: "Where Stripe sends a user after onboarding (return_url)",
  description:
    "A small page telling the user to go back to the app. Coming back does not mean onboarding is complete: Coffer learns the account's state from Stripe's account.updated events (GET /v1/connect/account).",
  security: "none",
  responses: { 200: { description: "An HTML page", contentType: "text/html" } },
});

export const connectRefreshPage = operation({
  method: "get",
  path: "/connect/refresh",
  operationId: "connectRefreshPage",
  summary: "Renews an expired or used onboarding link (refresh_url)",
  description:
    "Stripe sends the user's browser here when an account link has expired or was already visited. `token`, put there by Coffer when it made the link, names the connected account and expires an hour after that link was made; the answer is a redirect to a fresh account link for that account. Each visit counts against the account owner's RATE_LIMIT_PER_MINUTE, as their /v1 requests do.",
  security: "none",
  query: z.strictObject({
    token: z
      .string()
      .min(1)
      .max(512)
      .meta({ description: "The signed token from the account link's refresh_url" }),
  }),
  responses: {
    303: { description: "To a fresh Stripe account link for the token's account", headers: ["Location"] },
  },
  errors: [400, 404, 429, 502, 503],
});

const RETURN_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Back to Coffer</title></head>
<body>
<h1>Thank you</h1>
<p>Your details are with Stripe. You can close this tab and go back to the app, which shows
when your account can receive withdrawals.</p>
</body>
</html>
`;

export function connectPageRoutes(router: Router, deps: AppDeps): void {
  route(router, connectReturnPage, (ctx) => {
    ctx.type = "text/html; charset=utf-8";
    ctx.body = RETURN_PAGE;
  });

  route(router, connectRefreshPage, async (ctx, { query }) => {
    // Each visit makes a link at Stripe, under the budget every process shares: it counts as the
    // account owner's requests, so one user hammering their own link cannot spend everyone's.
    const url = await refreshOnboardingLink(flowDeps(deps, ctx), query.token, (userId) =>
      limitAsUser(ctx, userId),
    );
    // The link is single-use and short-lived: never cached, on a shared proxy or in the browser.
    ctx.set("Cache-Control", "no-store");
    ctx.status = 303;
    ctx.redirect(url);
  });
}
