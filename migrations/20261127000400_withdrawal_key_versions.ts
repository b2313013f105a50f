import type { Knex } from "knex";

/**
 * Stripe stores a refusal under its idempotency key for 24 h, so after a
 * `balance_insufficient` (proof the create did not act) a retry needs a fresh
 * key to be able to succeed once the funds settle. The version counts those
 * refusals; version 0 is SPEC's plain `wd_…:transfer` / `wd_…:payout`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("withdrawal_requests", (t) => {
    t.integer("transfer_key_version").notNullable().defaultTo(0);
    t.integer("payout_key_version").notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("withdrawal_requests", (t) => {
    t.dropColumn("transfer_key_version");
    t.dropColumn("payout_key_version");
  });
}
