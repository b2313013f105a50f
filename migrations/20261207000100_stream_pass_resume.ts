import type { Knex } from "knex";

/**
 * Where a pass over Stripe's balance transactions stands, so that one cut short (a worker killed
 * on page 700 of a day's 1,000) goes on from its last saved page instead of reading all of it
 * again: at Stripe's 25 requests per second on one endpoint those 700 pages are 28 s. Each page's
 * lines and this state are saved in one transaction (src/flows/reconcile-stream.ts); the cursor
 * itself still moves only when a pass ends, and these columns are then cleared.
 * - `pass_since`: the pass's lower bound (`created[gte]`); a pass is resumed only by one that
 *   asks for the same bound, since a run reads its whole window and a follower pass less.
 * - `pass_after`: the last line of the last saved page, Stripe's `starting_after` to go on from.
 * - `pass_newest`, `pass_listed`: the pass's cut (the newest `created` it read, and the lines of
 *   that second it read); `pass_started_at`: the database's clock before its first page.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("reconciliation_cursors", (t) => {
    t.bigInteger("pass_since");
    t.text("pass_after");
    t.bigInteger("pass_newest");
    t.specificType("pass_listed", "text[]");
    t.timestamp("pass_started_at", { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("reconciliation_cursors", (t) => {
    t.dropColumns("pass_since", "pass_after", "pass_newest", "pass_listed", "pass_started_at");
  });
}
