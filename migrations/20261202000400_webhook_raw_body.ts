import type { Knex } from "knex";

/**
 * A validly signed webhook that Coffer cannot parse or store in full (a NUL or lone
 * surrogate escape jsonb refuses, a fractional `created`, absurd nesting) is still kept, so
 * Stripe gets its 200 and stops retrying: its exact bytes go to `raw_body`, `payload` and
 * `stripe_created` stay NULL, and the row is `failed` with the reason. Every row keeps one
 * of the two forms.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE stripe_webhook_events
      ADD COLUMN raw_body bytea,
      ALTER COLUMN payload DROP NOT NULL,
      ALTER COLUMN stripe_created DROP NOT NULL,
      ADD CONSTRAINT stripe_webhook_events_body CHECK (payload IS NOT NULL OR raw_body IS NOT NULL);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DELETE FROM stripe_webhook_events WHERE payload IS NULL OR stripe_created IS NULL;
    ALTER TABLE stripe_webhook_events
      DROP CONSTRAINT stripe_webhook_events_body,
      DROP COLUMN raw_body,
      ALTER COLUMN payload SET NOT NULL,
      ALTER COLUMN stripe_created SET NOT NULL;
  `);
}
