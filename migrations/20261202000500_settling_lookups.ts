import type { Knex } from "knex";

/**
 * Settled funds (src/db/stores/settling.ts) read, for each unsettled card credit, the forced
 * debits on its payment: the refunds by payment_intent_id (already indexed) and the disputes
 * by it, which until now were indexed only by owner and status.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("stripe_disputes", (t) => t.index(["payment_intent_id"]));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("stripe_disputes", (t) => t.dropIndex(["payment_intent_id"]));
}
