/** Tests talk to the machine's real Postgres (trust auth); PGTEST_URL points elsewhere if needed. */
const BASE = process.env.PGTEST_URL ?? "postgres://root@127.0.0.1:5432";
export const ADMIN_URL = `${BASE}/postgres`;
export const TEMPLATE_DB = "coffer_test_template";
export const dbUrl = (name: string) => `${BASE}/${name}`;
export const REDIS_URL = process.env.REDISTEST_URL ?? "redis://127.0.0.1:6379";
