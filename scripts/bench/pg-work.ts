import type { Db } from "../../src/db/knex.js";

/**
 * What Postgres wrote per posting: write transactions (transaction ids assigned, so one per
 * commit or rollback that wrote anything) and WAL bytes. The raw SQL baseline is one write
 * transaction per posting; Coffer's figures beside it say where Postgres's CPU per posting goes.
 *
 * Both counters are the server's own and current the moment they are read. pg_stat_database's
 * commit and row counters are not: a backend that goes idle reports its last second of work only
 * after PGSTAT_IDLE_INTERVAL (10 s), so marks a second apart moved one run's work into the next
 * (an earlier version of this bench printed 1.1 commits per posting, below the 2 a webhook's
 * insert and its claim make alone). Both counters are the cluster's: the bench is alone on it.
 */
export interface PgWork {
  xacts: number;
  walBytes: number;
}

export async function pgMark(db: Db): Promise<PgWork> {
  // The next transaction id to be assigned (reading it assigns none) and the WAL insert position.
  const { rows } = await db.raw<{ rows: Array<{ xid: string; wal: string }> }>(
    `SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid,
            pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::text AS wal`,
  );
  return { xacts: Number(rows[0]!.xid), walBytes: Number(rows[0]!.wal) };
}

export function pgPerPosting(from: PgWork, to: PgWork, postings: number): PgWork {
  return {
    xacts: (to.xacts - from.xacts) / postings,
    walBytes: (to.walBytes - from.walBytes) / postings,
  };
}
