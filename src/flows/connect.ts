import type Stripe from "stripe";
import {
  getConnectedAccount,
  insertConnectedAccount,
  syncConnectedAccount,
  type ConnectAccountType,
} from "../db/stores/connected-accounts.js";
import { userKeyHash } from "../ledger/movements.js";
import { mirrorExternalAccounts } from "./bank-accounts.js";
import type { FlowDeps } from "./deps.js";

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
  const link = await deps.stripe.accountLinks.create({
    account: row.account_id,
    type: "account_onboarding",
    refresh_url: deps.config.CONNECT_REFRESH_URL,
    return_url: deps.config.CONNECT_RETURN_URL,
  });
  return { account_id: row.account_id, onboarding_url: link.url };
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
