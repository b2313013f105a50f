import type { Db } from "../../src/db/knex.js";

/**
 * What Postgres did per posting in one database: commits, and rows written and read, from
 * pg_stat_database. The raw SQL baseline is one commit, three inserts and one update per posting;
 * Coffer's figures beside it say where Postgres's CPU per posting goes. Backends report these
 * counters at most once a second, so a mark waits that long for them to settle.
 */
export interface PgWork {
  commits: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** Rows returned by scans and fetched by index: the reads. */
  read: number;
}

export async function pgMark(db: Db): Promise<PgWork> {
  await new Promise((r) => setTimeout(r, 1_100));
  const { rows } = await db.raw<{ rows: Array<Record<string, string>> }>(
    `SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned + tup_fetched AS read
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  const r = rows[0]!;
  return {
    commits: Number(r.xact_commit),
    inserted: Number(r.tup_inserted),
    updated: Number(r.tup_updated),
    deleted: Number(r.tup_deleted),
    read: Number(r.read),
  };
}

export function pgPerPosting(from: PgWork, to: PgWork, postings: number): PgWork {
  const per = (k: keyof PgWork) => (to[k] - from[k]) / postings;
  return {
    commits: per("commits"),
    inserted: per("inserted"),
    updated: per("updated"),
    deleted: per("deleted"),
    read: per("read"),
  };
}
