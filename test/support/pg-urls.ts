/** Tests talk to the machine's real Postgres (trust auth); PGTEST_URL points elsewhere if needed. */
const BASE = process.env.PGTEST_URL ?? "postgres://root@127.0.0.1:5432";
export const ADMIN_URL = `${BASE}/postgres`;
/** Set by global-setup.ts for this run; names every database the run creates. */
export const runId = () => process.env.COFFER_TEST_RUN ?? "adhoc";
export const templateDb = () => `coffer_test_${runId()}_template`;
export const dbUrl = (name: string) => `${BASE}/${name}`;
export const REDIS_URL = process.env.REDISTEST_URL ?? "redis://127.0.0.1:6379";
