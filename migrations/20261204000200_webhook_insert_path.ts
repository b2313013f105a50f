import type { Knex } from "knex";

/**
 * The webhook table keeps, beyond its primary key, only indexes that earn their cost on the
 * insert path (issue 9: every webhook writes one row, and each index is one more insert in it).
 *
 * - `stripe_webhook_events_open` (enqueued_at, open statuses only) stays: the sweeper reads it
 *   every SWEEP_INTERVAL_MS in every worker, and without it each sweep would scan the table.
 * - `stripe_webhook_events_status_idx` (status, id) goes: every row entered it, and every claim
 *   and finish entered it again (a status change is never a HOT update, since the open index's
 *   predicate reads status), for what only admins read. 100,000 rows inserted without it took
 *   0.63–0.85 of the time with it (scripts/bench/explain-events.ts, 3 rounds).
 * - What admins read is served otherwise (the plans, on 100,000 rows, in explain-events.ts):
 *   the failed and ignored events (the summary's count, the lists an operator works through) by
 *   `stripe_webhook_events_settled_off`, a partial index a routed event never enters (only a
 *   delivery of a type no queue handles, or an event that fails, does); open events by the
 *   sweeper's index, sorting the open ones; the processed ones and the list of all events walk
 *   the primary key backwards (they are ordered by id) and filter, which stops within a page.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS stripe_webhook_events_status_idx;
    CREATE INDEX stripe_webhook_events_settled_off ON stripe_webhook_events (status, id)
      WHERE status IN ('failed', 'ignored');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS stripe_webhook_events_settled_off;
    CREATE INDEX stripe_webhook_events_status_idx ON stripe_webhook_events (status, id);
  `);
}
