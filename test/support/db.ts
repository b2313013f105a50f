import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDb, type Db } from "../../src/db/knex.js";
import { ADMIN_URL, appDbUrl, dbUrl, runId, templateDb } from "./pg-urls.js";

export interface TestDb {
  name: string;
  /** The application's URL: its least-privileged role (test/support/pg-urls.ts). */
  url: string;
  /** The owner's URL, for what the application may not do (and migrations). */
  ownerUrl: string;
  /** Connected as the application: what a test writes through it, the app could have written. */
  db: Db;
  drop(): Promise<void>;
}

/** A fresh database for one test file, cloned from the migrated template (grants included). */
export async function createTestDb(): Promise<TestDb> {
  const name = `coffer_test_${runId()}_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDb()}"`);
  } finally {
    await admin.end();
  }
  const url = appDbUrl(name);
  const db = createDb(url, { poolMax: 20 });
  return {
    name,
    url,
    ownerUrl: dbUrl(name),
    db,
    drop: async () => {
      await db.destroy();
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => c.end());
    },
  };
}
