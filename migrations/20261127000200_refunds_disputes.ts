import type { Knex } from "knex";

/**
 * Coffer's view of each Stripe refund and dispute: the status last applied
 * (statuses only move forward, so a stale retrieve can never re-debit a refund
 * known to have failed) and the owner, so an open dispute can block a withdrawal.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("stripe_refunds", (t) => {
    t.text("id").primary(); // re_…
    t.text("payment_intent_id").notNullable();
    t.text("charge_id");
    t.text("user_id").notNullable().references("users.id");
    t.bigInteger("amount_minor").notNullable();
    t.text("currency").notNullable();
    t.text("status").notNullable();
    t.timestamps(true, true);
    t.index(["payment_intent_id"]);
  });
  await knex.schema.createTable("stripe_disputes", (t) => {
    t.text("id").primary(); // dp_…
    t.text("payment_intent_id").notNullable();
    t.text("charge_id");
    t.text("user_id").notNullable().references("users.id");
    t.bigInteger("amount_minor").notNullable();
    t.text("currency").notNullable();
    t.text("status").notNullable();
    t.timestamps(true, true);
    t.index(["user_id", "status"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("stripe_disputes");
  await knex.schema.dropTableIfExists("stripe_refunds");
}
