import {
  getConnectedAccount,
  insertConnectedAccount,
  syncConnectedAccount,
} from "../db/stores/connected-accounts.js";
import type { FlowDeps } from "./deps.js";

/**
 * Users are paid through Stripe Connect: each gets one Express account. The
 * create is keyed by the user (`connect:<user>:account`), so two concurrent
 * requests get the same account from Stripe and the unique row makes the
 * second insert a no-op. The onboarding link is fresh on every call (links expire).
 */
export async function onboard(
  deps: FlowDeps,
  userId: string,
): Promise<{ account_id: string; onboarding_url: string }> {
  let row = await getConnectedAccount(deps.db, userId);
  if (!row) {
    const acct = await deps.stripe.accounts.create(
      {
        type: "express",
        capabilities: { transfers: { requested: true } },
        // Manual payouts: Coffer pays each withdrawal with its own Payout. Stripe's default
        // (automatic daily) would sweep the transferred funds without our metadata.
        settings: { payouts: { schedule: { interval: "manual" } } },
        metadata: { user_id: userId },
      },
      { idempotencyKey: `connect:${userId}:account` },
    );
    row = await insertConnectedAccount(deps.db, userId, acct.id);
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
 * `account.updated`: the account is re-fetched (the event may be old), and the
 * row only moves to state at least as new as the event that triggered it.
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
  return applied ? "account_synced" : "stale_or_unknown_account";
}
