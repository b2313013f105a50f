import type { Knex } from "knex";

/**
 * `withdrawal_requests.reversal_id` was never written: a reversed transfer is found by its
 * posting (`wd_…:returned`, keyed by the withdrawal) and the withdrawal's status, not by a
 * stored `trr_…`. A column nothing fills only invites a reader to trust it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("withdrawal_requests", (t) => t.dropColumn("reversal_id"));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("withdrawal_requests", (t) => t.text("reversal_id"));
}
