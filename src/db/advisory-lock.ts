import type pg from "pg";
import type { Db } from "./knex.js";

/**
 * Runs `fn` while holding a session advisory lock on a connection of its own, or
 * returns `{ acquired: false }` at once if another session holds it. The lock
 * lives as long as that connection: a worker killed mid-run drops it with the
 * connection, so a crash never leaves the lock behind.
 */
export async function withAdvisoryLock<T>(
  db: Db,
  key: number,
  fn: () => Promise<T>,
): Promise<{ acquired: true; value: T } | { acquired: false }> {
  const conn = (await db.client.acquireConnection()) as pg.PoolClient;
  try {
    const { rows } = await conn.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [key]);
    if (!rows[0]?.ok) return { acquired: false };
    try {
      return { acquired: true, value: await fn() };
    } finally {
      const unlocked = await conn
        .query<{ ok: boolean }>("SELECT pg_advisory_unlock($1) AS ok", [key])
        .then((r) => r.rows[0]?.ok === true)
        .catch(() => false);
      // A connection that may still hold the lock must never go back to the pool: session locks
      // are re-entrant, so whoever drew it next would "acquire" a lock that is not free.
      if (!unlocked) await conn.end().catch(() => undefined);
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
}
