import type { Knex } from "knex";

/**
 * The settling metric (src/db/stores/settling.ts, `settlingTotals`) read every card credit ever
 * made to find the few still settling, and on a platform with history it ran into its statement
 * timeout. A credit can be settling only while its top-up's charge line is unread or pending, so
 * the top-up's row now says when Coffer stored Stripe's word that the line is available
 * (`settled_at`, unix seconds), and a partial index holds only the credited top-ups without it:
 * the metric reads those and nothing of a settled credit's history.
 *
 * `settled_at` is a finding aid, never the rule: it is written beside every write of lines or
 * claims (the store's saveLines and refreshLines), set only when the rule itself says settled and
 * cleared otherwise, and the metric still applies the rule to each row the index gives it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("payment_transactions", (t) => t.bigInteger("settled_at"));
  // Credits already settled by the rule (src/ledger/settling.ts): every line that claims
  // `pi_…:captured` is available, and there is at least one.
  await knex.raw(`
    UPDATE payment_transactions p
       SET settled_at = extract(epoch FROM now())::bigint
      FROM (SELECT cl.ledger_key
              FROM stripe_balance_transaction_claims cl
              JOIN stripe_balance_transactions bt ON bt.id = cl.balance_transaction_id
             WHERE cl.ledger_key LIKE '%:captured'
             GROUP BY cl.ledger_key
            HAVING bool_and(bt.status = 'available')) s
     WHERE s.ledger_key = p.payment_intent_id || ':captured' AND p.purpose = 'wallet_top_up'`);
  await knex.raw(`
    CREATE INDEX payment_transactions_settling ON payment_transactions (user_id, currency)
     WHERE purpose = 'wallet_top_up' AND status = 'succeeded' AND settled_at IS NULL`);
  await knex.raw(`ANALYZE payment_transactions`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX payment_transactions_settling`);
  await knex.schema.alterTable("payment_transactions", (t) => t.dropColumn("settled_at"));
}
