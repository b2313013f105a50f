import type { Knex } from "knex";

/**
 * Settled funds count only once Coffer has seen Stripe call a charge's line `available`
 * (src/ledger/settling.ts). A line Coffer holds as pending whose `available_on` has come is read
 * again (src/flows/balance-recheck.ts): `checked_at` (unix seconds) is when that last happened, so
 * a line Stripe still shows pending is not asked about on every pass; the partial index finds the
 * due lines among pending ones only, however many settled lines the mirror holds.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("stripe_balance_transactions", (t) => t.bigInteger("checked_at"));
  await knex.raw(
    `CREATE INDEX stripe_balance_transactions_pending_due
       ON stripe_balance_transactions (available_on) WHERE status = 'pending'`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX stripe_balance_transactions_pending_due`);
  await knex.schema.alterTable("stripe_balance_transactions", (t) => t.dropColumn("checked_at"));
}
