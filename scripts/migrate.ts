import { migrateLatest } from "../src/db/migrate.js";

/** `npm run db:migrate`: creates the database if needed and applies pending migrations (.ts, via tsx). */
const url = process.env.DATABASE_URL ?? "postgres://root@127.0.0.1:5432/coffer";
const applied = await migrateLatest(url);
process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
