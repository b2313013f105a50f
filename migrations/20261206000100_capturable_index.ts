import type { Knex } from "knex";

/**
 * Every credit refreshes its wallet's `pending_minor` memo (src/db/stores/balances.ts,
 * REFRESH_PENDING): the sum of the wallet's uncaptured authorizations. With only the
 * (user_id, idempotency_key) and (user_id, id) indexes, Postgres found those by reading every
 * payment the wallet ever had and filtering on status, so a credit cost more the longer the
 * wallet's history: in the bench, about 300 rows read per credit on a wallet with 500 top-ups
 * (pg_stat_user_tables). A partial index holds only authorizations still open, which are few
 * and short-lived, so the refresh reads those and nothing of the history.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX payment_transactions_capturable ON payment_transactions (user_id, currency)
     WHERE status = 'requires_capture'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX payment_transactions_capturable`);
}
