import type Stripe from "stripe";
import type { Config } from "../config.js";
import {
  getConnectedAccount,
  getConnectedAccountById,
  insertConnectedAccount,
  syncConnectedAccount,
  type ConnectAccountType,
} from "../db/stores/connected-accounts.js";
import { DomainError } from "../ledger/errors.js";
import { userKeyHash } from "../ledger/movements.js";
import { mirrorExternalAccounts } from "./bank-accounts.js";
import { signRefreshToken, verifyRefreshToken } from "./connect-link-token.js";
import { nowOf, type FlowDeps } from "./deps.js";

/**
 * What Coffer asks Stripe for, by CONNECT_ACCOUNT_TYPE. Both request only `transfers` (Coffer pays
 * users, it does not let them charge) and manual payouts: Coffer pays each withdrawal with its own
 * Payout, where Stripe's default (automatic daily) would sweep the transferred funds without our
 * metadata. A Custom account needs its capabilities requested at creation; its terms of service
 * are accepted in the same Stripe-hosted onboarding as Express's, so Coffer sends no tos_acceptance.
 */
function accountParams(type: ConnectAccountType, userId: string): Stripe.AccountCreateParams {
  return {
    type,
    capabilities: { transfers: { requested: true } },
    settings: { payouts: { schedule: { interval: "manual" } } },
    metadata: { user_id: userId },
  };
}

/**
 * Users are paid through Stripe Connect: each gets one connected account. The create is keyed by
 * the user, so two concurrent requests get the same account from Stripe and the unique row makes
 * the second insert a no-op. The key carries a hash of the user id, never the id itself: ids are
 * opaque JWT subjects of up to any length, and Stripe caps keys at 255 characters.
 *
 * Users who onboarded under the old key (`connect:<sub>:account`) are unaffected: their account id
 * is stored, and Stripe is asked again only when no row exists. Only a create that reached Stripe
 * but was never stored (a crash between the two, deployed across within Stripe's 24-hour key
 * window) makes a second account; the first stays restricted and unused, and no money goes to it.
 * The onboarding link is fresh on every call (links expire).
 */
export async function onboard(
  deps: FlowDeps,
  userId: string,
): Promise<{ account_id: string; onboarding_url: string }> {
  let row = await getConnectedAccount(deps.db, userId);
  if (!row) {
    const type = deps.config.CONNECT_ACCOUNT_TYPE;
    const acct = await deps.stripe.accounts.create(accountParams(type, userId), {
      idempotencyKey: `connect:${userKeyHash(userId)}:account`,
    });
    row = await insertConnectedAccount(deps.db, userId, acct.id, type);
    await syncConnectedAccount(deps.db, {
      accountId: acct.id,
      chargesEnabled: acct.charges_enabled ?? false,
      payoutsEnabled: acct.payouts_enabled ?? false,
      requirementsDue: acct.requirements?.currently_due ?? [],
      asOf: 0, // any event about the account is newer than this
    });
  }
  return { account_id: row.account_id, onboarding_url: await onboardingLink(deps, row.account_id) };
}

/**
 * Where Stripe sends the user back: PUBLIC_URL's two pages (src/http/routes/connect-pages.ts)
 * unless CONNECT_RETURN_URL / CONNECT_REFRESH_URL name others. PUBLIC_URL defaults to this web
 * process's own address, on the PORT it listens on.
 */
export function connectUrls(
  config: Pick<Config, "PORT" | "PUBLIC_URL" | "CONNECT_RETURN_URL" | "CONNECT_REFRESH_URL">,
): { returnUrl: string; refreshUrl: string } {
  const base = (config.PUBLIC_URL ?? `http://127.0.0.1:${config.PORT}`).replace(/\/+$/, "");
  return {
    returnUrl: config.CONNECT_RETURN_URL ?? `${base}/connect/return`,
    refreshUrl: config.CONNECT_REFRESH_URL ?? `${base}/connect/refresh`,
  };
}

/**
 * A fresh onboarding link. Its refresh_url carries a token naming this account (connect-link-
 * token.ts), since the browser Stripe sends there has no bearer token; /connect/refresh
 * checks it and calls this again.
 */
async function onboardingLink(deps: FlowDeps, accountId: string): Promise<string> {
  const urls = connectUrls(deps.config);
  const refresh = new URL(urls.refreshUrl);
  const nowS = Math.floor(nowOf(deps).getTime() / 1000);
  refresh.searchParams.set("token", signRefreshToken(deps.config.AUTH_JWT_SECRET, accountId, nowS));
  const link = await deps.stripe.accountLinks.create({
    account: accountId,
    type: "account_onboarding",
    refresh_url: refresh.toString(),
    return_url: urls.returnUrl,
  });
  return link.url;
}

/**
 * `/connect/refresh?token=…`: Stripe's refresh_url, opened by the user's browser when a link has
 * expired or was used. The token names the account, so one user can never make a link for
 * another's; what comes back is a new link for the same account with the same parameters.
 */
export async function refreshOnboardingLink(
  deps: FlowDeps,
  token: string,
  /** Called with the account's user before Stripe is: the route's rate limit. */
  admit: (userId: string) => Promise<void>,
): Promise<string> {
  const nowS = Math.floor(nowOf(deps).getTime() / 1000);
  const accountId = verifyRefreshToken(deps.config.AUTH_JWT_SECRET, token, nowS);
  const row = await getConnectedAccountById(deps.db, accountId);
  if (!row) throw new DomainError("not_found", "no such connected account");
  await admit(row.user_id);
  return onboardingLink(deps, row.account_id);
}

/**
 * `account.updated`: the account is re-fetched (the event may be old), and the row only moves to
 * state at least as new as the event that triggered it. The fetched account carries its external
 * accounts, which are mirrored under the same rule (bank-accounts.ts).
 */
export async function syncAccount(deps: FlowDeps, accountId: string, eventCreated: number): Promise<string> {
  const acct = await deps.stripe.accounts.retrieve(accountId);
  const applied = await syncConnectedAccount(deps.db, {
    accountId,
    chargesEnabled: acct.charges_enabled ?? false,
    payoutsEnabled: acct.payouts_enabled ?? false,
    requirementsDue: acct.requirements?.currently_due ?? [],
    asOf: eventCreated,
  });
  const banks = await mirrorExternalAccounts(deps, acct, eventCreated);
  return `${applied ? "account_synced" : "stale_or_unknown_account"}; ${banks}`;
}
