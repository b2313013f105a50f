import knexFactory, { type Knex } from "knex";
import pg from "pg";

/**
 * pg returns int8 (and the numeric that SUM produces) as strings, because a JS
 * number cannot hold every int8. Money here is bounded well below 2^53, so we
 * parse int8 deliberately and refuse, loudly, any value a number cannot hold
 * exactly rather than round it.
 */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is outside the safe integer range`);
  return n;
}
pg.types.setTypeParser(pg.types.builtins.INT8, parseInt8);

export type Db = Knex;
export type Tx = Knex | Knex.Transaction;

export function createDb(databaseUrl: string, opts: { poolMax?: number } = {}): Db {
  return knexFactory({
    client: "pg",
    connection: { connectionString: databaseUrl, application_name: "coffer" },
    pool: { min: 0, max: opts.poolMax ?? 10 },
    // Fail fast when Postgres is down so the webhook answers 503 and Stripe retries.
    acquireConnectionTimeout: 5_000,
  });
}

/** Migrations are .ts files run through tsx everywhere; knex records the extension, so never mix. */
export const MIGRATIONS = {
  directory: new URL("../../migrations", import.meta.url).pathname,
  loadExtensions: [".ts"],
  extension: "ts",
} as const;
