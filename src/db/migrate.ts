import pg from "pg";
import { createDb, MIGRATIONS } from "./knex.js";

/** Creates the database named in the URL if it does not exist (needs CREATEDB, as on a dev machine). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } catch (err) {
    // Two migrators racing to create it: the loser's 42P04 (duplicate_database) is fine.
    if ((err as { code?: string }).code !== "42P04") throw err;
  } finally {
    await client.end();
  }
}

export async function migrateLatest(databaseUrl: string): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { poolMax: 2 });
  try {
    const [, applied] = (await db.migrate.latest(MIGRATIONS)) as [number, string[]];
    return applied;
  } finally {
    await db.destroy();
  }
}
