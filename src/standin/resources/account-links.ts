import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { paramError } from "../errors.js";
import { nowSeconds, randomBase62 } from "../ids.js";
import * as p from "../params.js";
import { PLATFORM } from "../state.js";

/** Where the offline stand-in listens by default (Coffer's OFFLINE_STRIPE_API_BASE). */
const DEFAULT_PUBLIC_URL = "http://127.0.0.1:12111";

// Stripe's account links expire five minutes after creation.
const LINK_TTL_S = 300;

function optUrl(ctx: ApiContext, name: string): string | undefined {
  const value = p.optString(ctx.params, name);
  if (value !== undefined && !/^https?:\/\/\S+$/.test(value)) throw paramError(`Not a valid URL`, name);
  return value;
}

/**
 * A one-time onboarding link. It points at the stand-in's own simulated onboarding page, which
 * tells whoever opens it to finish onboarding with `POST /_standin/accounts/:id/enable`.
 */
function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["account", "type", "refresh_url", "return_url", "collect", "expand"]);
  const accountId = p.reqString(ctx.params, "account");
  const type = p.optEnum(ctx.params, "type", ["account_onboarding", "account_update"]);
  if (type === undefined) throw paramError("Missing required param: type.", "type", "parameter_missing");
  const query = new URLSearchParams({ link: randomBase62(12), type });
  const refresh = optUrl(ctx, "refresh_url");
  const back = optUrl(ctx, "return_url");
  if (refresh !== undefined) query.set("refresh_url", refresh);
  if (back !== undefined) query.set("return_url", back);
  const account = ctx.store.require(PLATFORM, "account", accountId, "account");
  const created = nowSeconds();
  const base = ctx.store.publicUrl ?? DEFAULT_PUBLIC_URL;
  const link: Stripe.AccountLink = {
    object: "account_link",
    created,
    expires_at: created + LINK_TTL_S,
    url: `${base}/_standin/onboarding/${encodeURIComponent(account.id)}?${query.toString()}`,
  };
  return link;
}

export const accountLinkRoutes: Route[] = [{ method: "POST", path: "/v1/account_links", handler: create }];
