import type { Knex } from "knex";

/**
 * `user_subscriptions.latest_invoice_created`: the latest invoice's own `created`, so an event
 * about an older invoice (one paid late, after a renewal's invoice exists) no longer takes its
 * place (src/ledger/subscriptions.ts, latestInvoiceDecision). Rows mirrored before it stay null
 * and follow the as-of rule until their next invoice state records one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("user_subscriptions", (t) => {
    t.bigInteger("latest_invoice_created");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("user_subscriptions", (t) => {
    t.dropColumn("latest_invoice_created");
  });
}
