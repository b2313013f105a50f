import type pg from "pg";
import type { Tx } from "./knex.js";

/**
 * The hot path's statements, sent as named prepared statements on the pg connection knex holds
 * for the transaction (or a pooled one, outside a transaction), without knex's query building.
 *
 * Why it bends the code: the worker profile of 2026-12-03 (scripts/bench/profile-worker.ts,
 * 3,000 credits over 100 wallets) spent 1.83 ms of a credit's 8.15 ms of worker CPU in knex
 * compiling its 16 statements (toSQL, positionBindings, redefineProperties), and Postgres parsed
 * and planned each one again. A named statement is parsed once per connection, and its text is a
 * constant beside the store function that uses it. Only the per-event statements use this; all
 * other SQL stays in knex, where it reads better.
 */
export interface Statement {
  /** Unique per text: pg prepares a name once per connection and reuses it. */
  name: string;
  text: string;
}

interface KnexClientLike {
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<unknown>;
}

export async function prepared<R extends pg.QueryResultRow>(
  trx: Tx,
  s: Statement,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  // Inside a transaction knex hands out the transaction's own connection and its release is a no-op.
  const client = trx.client as KnexClientLike;
  const conn = (await client.acquireConnection()) as pg.PoolClient;
  try {
    return await conn.query<R>({ name: s.name, text: s.text, values });
  } finally {
    await client.releaseConnection(conn);
  }
}
