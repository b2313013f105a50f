/** Tests talk to the machine's real Postgres (trust auth); PGTEST_URL points elsewhere if needed. */
const BASE = process.env.PGTEST_URL ?? "postgres://root@127.0.0.1:5432";
export const ADMIN_URL = `${BASE}/postgres`;
/** Set by global-setup.ts for this run; names every database the run creates. */
export const runId = () => process.env.COFFER_TEST_RUN ?? "adhoc";
export const templateDb = () => `coffer_test_${runId()}_template`;
/** The owner's URL of a test database (migrations, and what a test does behind the app's back). */
export const dbUrl = (name: string) => `${BASE}/${name}`;
/**
 * The application's URL of a test database: as the least-privileged role migrations create
 * (coffer_app, or PGTEST_APP_USER, which the migrator makes a member of it), as in production,
 * so a grant the app lacks fails the suite. With PGTEST_APP_USER=owner the app runs as the owner.
 */
export const appDbUrl = (name: string) => {
  const user = process.env.PGTEST_APP_USER ?? "coffer_app";
  if (user === "owner") return dbUrl(name);
  const url = new URL(dbUrl(name));
  url.username = user;
  url.password = "";
  return url.toString();
};
export const REDIS_URL = process.env.REDISTEST_URL ?? "redis://127.0.0.1:6379";
