import { getCustomer, insertCustomer } from "../db/stores/customers.js";
import { userKeyHash } from "../ledger/movements.js";
import type { FlowDeps } from "./deps.js";

/**
 * The user's one Stripe Customer, created on first need. The create is keyed by a hash of the
 * user id (ids are opaque JWT subjects of any length; Stripe keys are at most 255 characters),
 * so concurrent first needs get the same customer from Stripe and the unique row makes the second
 * insert a no-op. As with connected accounts, only a create that reached Stripe but was never
 * stored, retried after Stripe's 24-hour key window, makes a second customer, which then holds
 * nothing: customers cannot be listed by metadata.
 */
export async function ensureCustomer(deps: FlowDeps, userId: string): Promise<string> {
  const row = await getCustomer(deps.db, userId);
  if (row) return row.customer_id;
  const customer = await deps.stripe.customers.create(
    { metadata: { user_id: userId } },
    { idempotencyKey: `customer:${userKeyHash(userId)}` },
  );
  return (await insertCustomer(deps.db, userId, customer.id)).customer_id;
}
