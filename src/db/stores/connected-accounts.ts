import type { Tx } from "../knex.js";

export interface ConnectedAccountRow {
  user_id: string;
  account_id: string;
  charges_enabled: boolean;
  payouts_enabled: boolean;
  requirements_due: string[];
  stripe_updated: number;
}

export async function getConnectedAccount(trx: Tx, userId: string): Promise<ConnectedAccountRow | undefined> {
  return trx<ConnectedAccountRow>("stripe_connected_accounts").where({ user_id: userId }).first();
}

/** One account per user: a concurrent second create (same Stripe idempotency key, same acct) is a no-op. */
export async function insertConnectedAccount(
  trx: Tx,
  userId: string,
  accountId: string,
): Promise<ConnectedAccountRow> {
  await trx("stripe_connected_accounts")
    .insert({ user_id: userId, account_id: accountId })
    .onConflict("user_id")
    .ignore();
  return (await getConnectedAccount(trx, userId))!;
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
  const n = await trx("stripe_connected_accounts")
    .where({ account_id: a.accountId })
    .where("stripe_updated", "<=", a.asOf)
    .update({
      charges_enabled: a.chargesEnabled,
      payouts_enabled: a.payoutsEnabled,
      requirements_due: JSON.stringify(a.requirementsDue),
      stripe_updated: a.asOf,
      updated_at: trx.fn.now(),
    });
  return n > 0;
}
