import pg from "pg";
import { ensureAppUser } from "./app-role.js";
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

/**
 * Migrates as the owner (`ownerUrl`, DATABASE_OWNER_URL). Given the application's URL
 * (DATABASE_URL), it then makes that URL's user a member of coffer_app and reports through
 * `warn` anything that defeats least privilege (src/db/app-role.ts).
 */
export async function migrateLatest(
  ownerUrl: string,
  opts: { appUrl?: string; warn?: (line: string) => void } = {},
): Promise<string[]> {
  await ensureDatabase(ownerUrl);
  const db = createDb(ownerUrl, { poolMax: 2 });
  let applied: string[];
  try {
    [, applied] = (await db.migrate.latest(MIGRATIONS)) as [number, string[]];
  } finally {
    await db.destroy();
  }
  if (opts.appUrl !== undefined) {
    for (const line of await ensureAppUser(ownerUrl, opts.appUrl)) opts.warn?.(line);
  }
  return applied;
}
