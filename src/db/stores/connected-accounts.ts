import type { Tx } from "../knex.js";

export type ConnectAccountType = "express" | "custom";

export interface ConnectedAccountRow {
  user_id: string;
  account_id: string;
  account_type: ConnectAccountType;
  charges_enabled: boolean;
  payouts_enabled: boolean;
  requirements_due: string[];
  stripe_updated: number;
}

export async function getConnectedAccount(trx: Tx, userId: string): Promise<ConnectedAccountRow | undefined> {
  return trx<ConnectedAccountRow>("stripe_connected_accounts").where({ user_id: userId }).first();
}

export async function getConnectedAccountById(
  trx: Tx,
  accountId: string,
): Promise<ConnectedAccountRow | undefined> {
  return trx<ConnectedAccountRow>("stripe_connected_accounts").where({ account_id: accountId }).first();
}

/** One account per user: a concurrent second create (same Stripe idempotency key, same acct) is a no-op. */
export async function insertConnectedAccount(
  trx: Tx,
  userId: string,
  accountId: string,
  accountType: ConnectAccountType,
): Promise<ConnectedAccountRow> {
  await trx("stripe_connected_accounts")
    .insert({ user_id: userId, account_id: accountId, account_type: accountType })
    .onConflict("user_id")
    .ignore();
  return (await getConnectedAccount(trx, userId))!;
}

/**
 * Locks the account's row: every write to its mirrored bank accounts happens under it, so
 * concurrent events about one account (a new default, the old one's update, a re-fetch) apply
 * one after another and the one-default-per-currency rule is decided on a stable set of rows.
 */
export async function lockConnectedAccount(
  trx: Tx,
  accountId: string,
): Promise<ConnectedAccountRow | undefined> {
  return trx<ConnectedAccountRow>("stripe_connected_accounts")
    .where({ account_id: accountId })
    .forNoKeyUpdate()
    .first();
}

/**
 * Mirrors Stripe's account state. `stripe_updated` is the `created` time of the
 * event that carried it: an older event never overwrites newer state.
 */
export async function syncConnectedAccount(
  trx: Tx,
  a: {
    accountId: string;
    chargesEnabled: boolean;
    payoutsEnabled: boolean;
    requirementsDue: string[];
    asOf: number;
  },
): Promise<boolean> {
  // Never a time ahead of ours: a signed event dated years ahead would otherwise freeze the
  // row against every real update until then. The event was received before this runs.
  const asOf = Math.min(a.asOf, Math.floor(Date.now() / 1000));
  const n = await trx("stripe_connected_accounts")
    .where({ account_id: a.accountId })
    .where("stripe_updated", "<=", asOf)
    .update({
      charges_enabled: a.chargesEnabled,
      payouts_enabled: a.payoutsEnabled,
      requirements_due: JSON.stringify(a.requirementsDue),
      stripe_updated: asOf,
      updated_at: trx.fn.now(),
    });
  return n > 0;
}
