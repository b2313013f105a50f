import type { Knex } from "knex";

/**
 * Disputes remember which event set their status. An appeal makes `lost` →
 * `appeal_*` → `lost`, a cycle status ranks cannot order, so those moves compare
 * the event's `created` with this (SPEC → Webhooks → Order).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("stripe_disputes", (t) => {
    t.bigInteger("status_as_of").notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("stripe_disputes", (t) => t.dropColumn("status_as_of"));
}
