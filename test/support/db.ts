import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDb, type Db } from "../../src/db/knex.js";
import { ADMIN_URL, dbUrl, runId, templateDb } from "./pg-urls.js";

export interface TestDb {
  name: string;
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDb(): Promise<TestDb> {
  const name = `coffer_test_${runId()}_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDb()}"`);
  } finally {
    await admin.end();
  }
  const url = dbUrl(name);
  const db = createDb(url, { poolMax: 20 });
  return {
    name,
    url,
    db,
    drop: async () => {
      await db.destroy();
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => c.end());
    },
  };
}
