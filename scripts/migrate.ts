import { databaseOwnerUrl, databaseUrl } from "../src/config.js";
import { migrateLatest } from "../src/db/migrate.js";

/**
 * `npm run db:migrate`: creates the database if needed and applies pending migrations (.ts, via
 * tsx) as the owner (DATABASE_OWNER_URL), then makes DATABASE_URL's user a member of coffer_app
 * and warns about anything that defeats least privilege (src/db/app-role.ts).
 */
const applied = await migrateLatest(databaseOwnerUrl(), {
  appUrl: databaseUrl(),
  warn: (line) => process.stderr.write(`db:migrate: warning: ${line}\n`),
});
process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
