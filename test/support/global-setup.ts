import { execFileSync } from "node:child_process";
import pg from "pg";
import { ADMIN_URL, TEMPLATE_DB, dbUrl } from "./pg-urls.js";

/**
 * Migrates a template database once per run; each test file then clones it
 * (CREATE DATABASE … TEMPLATE), which takes milliseconds, instead of migrating.
 */
export async function setup(): Promise<() => Promise<void>> {
  await dropTestDatabases(true);
  // Knex imports the .ts migrations with Node's own loader, so migrate through tsx, as everywhere else.
  execFileSync(process.execPath, ["--import", "tsx", "scripts/migrate.ts"], {
    cwd: new URL("../../", import.meta.url).pathname,
    env: { ...process.env, DATABASE_URL: dbUrl(TEMPLATE_DB) },
    stdio: "inherit",
  });
  return () => dropTestDatabases(false);
}

async function dropTestDatabases(includeTemplate: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'coffer_test_%' ${includeTemplate ? "" : `AND datname <> '${TEMPLATE_DB}'`}`,
    );
    for (const r of rows) await client.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
