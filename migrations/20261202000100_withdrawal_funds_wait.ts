import type { Knex } from "knex";

/**
 * A withdrawal that Stripe refused with `balance_insufficient` waits for the funds instead of
 * spending its job attempts: `funds_waiting_since` says since when (it drives the backoff and
 * the "waited over a day" alert), `funds_wait_long_alerted` that the second alert was logged, so
 * each alert is written once however many workers retry. Both clear when a stage goes through.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("withdrawal_requests", (t) => {
    t.timestamp("funds_waiting_since", { useTz: true }).nullable();
    t.boolean("funds_wait_long_alerted").notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("withdrawal_requests", (t) => {
    t.dropColumn("funds_waiting_since");
    t.dropColumn("funds_wait_long_alerted");
  });
}
