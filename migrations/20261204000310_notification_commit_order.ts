import type { Knex } from "knex";

/**
 * `user_notifications.xact_id`: the inserting transaction's id (`xid8`, 64 bits, never wraps), so
 * the feed can be read in an order no late commit can fall behind (src/db/stores/notifications.ts).
 * Existing rows all get this migration's id: they were committed long ago, so any one order of
 * them is sound, and within one id they keep the id order they were read in. The index is the
 * feed's order; `(xact_id, id)` also makes the cursor a single index seek.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE user_notifications ADD COLUMN xact_id xid8 NOT NULL DEFAULT pg_current_xact_id();
    CREATE INDEX user_notifications_feed ON user_notifications (xact_id, id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS user_notifications_feed;
    ALTER TABLE user_notifications DROP COLUMN IF EXISTS xact_id;
  `);
}
