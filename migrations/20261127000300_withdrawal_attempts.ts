import type { Knex } from "knex";

/**
 * How many times a withdrawal's transfer and payout were sent to Stripe. Once a
 * create has been attempted, a later 4xx may only mean the first attempt
 * already acted, so it is no longer proof of failure (SPEC: such 4xx are never terminal).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("withdrawal_requests", (t) => {
    t.integer("transfer_attempts").notNullable().defaultTo(0);
    t.integer("payout_attempts").notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("withdrawal_requests", (t) => {
    t.dropColumn("transfer_attempts");
    t.dropColumn("payout_attempts");
  });
}
