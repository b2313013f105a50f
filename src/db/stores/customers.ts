import type { Tx } from "../knex.js";

/** `stripe_customers`: the one Stripe Customer of each user, created on first need. */
export interface CustomerRow {
  user_id: string;
  customer_id: string;
  created_at: Date;
}

export async function getCustomer(trx: Tx, userId: string): Promise<CustomerRow | undefined> {
  return trx<CustomerRow>("stripe_customers").where({ user_id: userId }).first();
}

export async function getCustomerByStripeId(trx: Tx, customerId: string): Promise<CustomerRow | undefined> {
  return trx<CustomerRow>("stripe_customers").where({ customer_id: customerId }).first();
}

/** A concurrent second create got the same customer from Stripe (same key): its insert is a no-op. */
export async function insertCustomer(trx: Tx, userId: string, customerId: string): Promise<CustomerRow> {
  await trx("stripe_customers")
    .insert({ user_id: userId, customer_id: customerId })
    .onConflict("user_id")
    .ignore();
  return (await getCustomer(trx, userId))!;
}

/**
 * Locks the user's customer row. Subscriptions are made from setups under it, one at a time per
 * user, so two setups for one price that succeed together cannot both become subscriptions.
 */
export async function lockCustomer(trx: Tx, userId: string): Promise<CustomerRow | undefined> {
  return trx<CustomerRow>("stripe_customers").where({ user_id: userId }).forUpdate().first();
}
