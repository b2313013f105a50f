import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { ADMIN_URL, appDbUrl, dbUrl } from "./pg-urls.js";

/**
 * Migrates a template database once per run; each test file then clones it
 * (CREATE DATABASE … TEMPLATE), which takes milliseconds, instead of migrating.
 * Database names carry this run's id (with its start time), so two runs on one
 * machine never drop each other's databases; leftovers of crashed runs older
 * than an hour are dropped here.
 */
export async function setup(): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  process.env.COFFER_TEST_RUN = runId; // inherited by the test workers, forked after this
  const template = `coffer_test_${runId}_template`;
  await dropWhere((name) => {
    const started = parseInt(name.split("_")[2]?.slice(0, -6) ?? "", 36);
    return Number.isFinite(started) && Date.now() - started > 3_600_000;
  });
  // Knex imports the .ts migrations with Node's own loader, so migrate through tsx, as everywhere else.
  // As in production: migrations as the owner, the app (every test's) as the least-privileged role.
  execFileSync(process.execPath, ["--import", "tsx", "scripts/migrate.ts"], {
    cwd: new URL("../../", import.meta.url).pathname,
    env: { ...process.env, DATABASE_OWNER_URL: dbUrl(template), DATABASE_URL: appDbUrl(template) },
    stdio: "inherit",
  });
  return () => dropWhere((name) => name.startsWith(`coffer_test_${runId}_`));
}

async function dropWhere(match: (name: string) => boolean): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'coffer\\_test\\_%'`,
    );
    // The template goes last: CREATE DATABASE … TEMPLATE needs it, so drop the clones first.
    const names = rows
      .map((r) => r.datname)
      .filter(match)
      .sort((a, b) => Number(a.endsWith("_template")) - Number(b.endsWith("_template")));
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
