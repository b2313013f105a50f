import type { Knex } from "knex";

/**
 * The settling query runs under the balance row lock of every withdrawal request
 * (src/db/stores/settling.ts), so it must not grow with the wallet's history. A hot wallet's
 * entries are mostly withdrawal holds (negative), and its card credits are a handful: this index
 * holds only positive `available` entries, keyed by their owner.
 *
 * Keyed by an expression, not by `user_id` itself, for the planner's sake: a plain column takes its
 * statistics from the whole table, where a hot wallet's thousands of holds make its user look
 * common, and Postgres then hash-joins every top-up in the ledger (and JIT-compiles it) to find
 * one credit. An expression index gets statistics of its own, over credits only. The store's query
 * spells the same expression (CREDIT_OWNER in src/db/stores/settling.ts): it must stay identical.
 */
const CREDIT_OWNER = `(CASE WHEN account = 'available' AND amount_minor > 0 THEN user_id END)`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX wallet_ledger_credits_by_owner ON wallet_ledger (${CREDIT_OWNER}, currency)
      WHERE account = 'available' AND amount_minor > 0`,
  );
  await knex.raw(`ANALYZE wallet_ledger`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX wallet_ledger_credits_by_owner`);
}
