import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoleIfMissing } from "../migrations/20261203000200_app_role.js";
import { APP_ROLE, ensureAppUser } from "../src/db/app-role.js";
import { createDb, type Db } from "../src/db/knex.js";
import { appendAudit } from "../src/db/stores/audit.js";
import { postPosting } from "../src/db/stores/ledger.js";
import { ensureUser } from "../src/db/stores/users.js";
import { withTransaction } from "../src/db/transaction.js";
import type { Currency } from "../src/money/currencies.js";
import { paymentCaptured } from "../src/ledger/movements.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { ADMIN_URL } from "./support/pg-urls.js";

/**
 * Issue 11, item 9 (SPEC → Least privilege): the application's role owns nothing and may not
 * UPDATE, DELETE or TRUNCATE the ledger or the audit log, nor switch their triggers off; it can do
 * what the application does. The app here is the role every test's processes connect as
 * (test/support/db.ts), so a grant the code lacks also fails the rest of the suite.
 */
const APPEND_ONLY = ["wallet_ledger", "wallet_ledger_transactions", "admin_audit_log"];
let tdb: TestDb;
let app: Db;
let owner: Db;
const made: string[] = [];

beforeAll(async () => {
  tdb = await createTestDb();
  app = tdb.db;
  owner = createDb(tdb.ownerUrl, { poolMax: 10 });
  await ensureUser(app, "lp-user");
  await withTransaction(app, (trx) =>
    postPosting(
      trx,
      paymentCaptured("pi_lp", "lp-user", { amountMinor: 1_000, currency: "usd" as Currency }),
    ),
  );
  await appendAudit(app, { actor: "lp-admin", action: "test", target: "lp" });
});
afterAll(async () => {
  await owner?.destroy();
  await tdb?.drop();
  // Roles belong to the cluster: drop the ones made here.
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  for (const r of made) await c.query(`DROP ROLE IF EXISTS "${r}"`).catch(() => undefined);
  await c.end();
});

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => "succeeded",
    // knex prefixes Postgres's message with the statement: keep Postgres's own words.
    (err: { code?: string; message: string }) => `${err.code}: ${err.message.split(" - ").at(-1)}`,
  );

describe("the application's role", () => {
  it("is coffer_app (or a member of it), not a superuser, and owns no relation", async () => {
    const { rows } = await app.raw<{ rows: Array<Record<string, unknown>> }>(`
      SELECT current_user AS me, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
             pg_has_role(current_user, '${APP_ROLE}', 'MEMBER') AS member,
             (SELECT count(*)::int FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner
               WHERE o.rolname IN (current_user, '${APP_ROLE}')) AS owned
        FROM pg_roles r WHERE r.rolname = current_user`);
    expect(rows[0]).toEqual({
      me: APP_ROLE,
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolbypassrls: false,
      member: true,
      owned: 0,
    });
  });

  it.each(APPEND_ONLY)(
    "may not UPDATE, DELETE or TRUNCATE %s: refused by privilege, before any trigger",
    async (t) => {
      for (const sql of [`UPDATE ${t} SET created_at = now()`, `DELETE FROM ${t}`, `TRUNCATE ${t}`]) {
        expect(await refusal(app.raw(sql)), sql).toBe(`42501: permission denied for table ${t}`);
      }
      expect(Number((await app(t).count({ n: "*" }))[0]!.n)).toBeGreaterThan(0);
    },
  );

  it("may not switch the triggers off", async () => {
    expect(await refusal(app.raw("SET session_replication_role = replica"))).toBe(
      '42501: permission denied to set parameter "session_replication_role"',
    );
    expect(
      await refusal(app.transaction((trx) => trx.raw("SET LOCAL session_replication_role = replica"))),
    ).toMatch(/^42501: permission denied/);
    for (const t of APPEND_ONLY) {
      for (const which of ["ALL", "USER", `${t}_no_update_delete`]) {
        const sql = `ALTER TABLE ${t} DISABLE TRIGGER ${which}`;
        expect(await refusal(app.raw(sql)), sql).toBe(`42501: must be owner of table ${t}`);
      }
    }
  });

  it("may not create, drop or grant", async () => {
    expect(await refusal(app.raw("CREATE TABLE lp_probe (x int)"))).toMatch(
      /^42501: permission denied for schema public/,
    );
    expect(await refusal(app.raw("DROP TABLE wallet_ledger"))).toBe(
      "42501: must be owner of table wallet_ledger",
    );
    // Without the grant option Postgres only warns ("no privileges were granted"): nothing changes.
    await app.raw(`GRANT UPDATE ON wallet_ledger TO ${APP_ROLE}`);
    expect(await refusal(app.raw("UPDATE wallet_ledger SET created_at = now()"))).toBe(
      "42501: permission denied for table wallet_ledger",
    );
    expect(await refusal(app.raw("CREATE ROLE lp_probe"))).toMatch(/^42501/);
  });

  it("does what the application does: a posting and an audit row (done in beforeAll), and reads", async () => {
    const balance = await app("user_wallet_balances").where({ user_id: "lp-user", currency: "usd" }).first();
    expect(Number(balance.available_minor)).toBe(1_000);
    expect(await app("admin_audit_log").where({ actor: "lp-admin" }).first()).toMatchObject({
      action: "test",
    });
  });

  it("lacks UPDATE, DELETE and TRUNCATE on every table with the append-only trigger, now and later", async () => {
    const { rows } = await owner.raw<{ rows: Array<{ t: string; privs: string[] }> }>(`
      SELECT DISTINCT c.relname AS t,
             array_remove(ARRAY[
               CASE WHEN has_table_privilege('${APP_ROLE}', c.oid, 'UPDATE') THEN 'UPDATE' END,
               CASE WHEN has_table_privilege('${APP_ROLE}', c.oid, 'DELETE') THEN 'DELETE' END,
               CASE WHEN has_table_privilege('${APP_ROLE}', c.oid, 'TRUNCATE') THEN 'TRUNCATE' END], NULL) AS privs
        FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_proc p ON p.oid = g.tgfoid
       WHERE p.proname = 'coffer_refuse_change' ORDER BY 1`);
    expect(rows.map((r) => r.t)).toEqual(expect.arrayContaining(APPEND_ONLY));
    for (const r of rows) expect(r.privs, r.t).toEqual([]);
  });

  it("reads and writes every other table, including one a later migration creates (default privileges)", async () => {
    await owner.raw("CREATE TABLE lp_later (id bigserial PRIMARY KEY, v text)");
    const { rows } = await owner.raw<{ rows: Array<{ t: string; ok: boolean }> }>(`
      SELECT tablename AS t,
             has_table_privilege('${APP_ROLE}', quote_ident(tablename), 'SELECT, INSERT') AS ok
        FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex\\_%'`);
    for (const r of rows) expect(r.ok, r.t).toBe(true);
    await app("lp_later").insert({ v: "x" });
    expect(await app("lp_later").update({ v: "y" }).where({ v: "x" })).toBe(1);
    expect(
      await refusal(
        app.raw("INSERT INTO knex_migrations (name, batch, migration_time) VALUES ('x', 1, now())"),
      ),
    ).toMatch(/^42501/);
  });

  it("is stopped by the trigger even as a superuser (the owner here)", async () => {
    expect(await refusal(owner.raw("UPDATE wallet_ledger SET created_at = now()"))).toBe(
      "42501: UPDATE on wallet_ledger is not allowed: the table is append-only",
    );
    expect(await refusal(owner.raw("TRUNCATE admin_audit_log"))).toMatch(/append-only/);
  });
});

describe("creating roles while other databases migrate", () => {
  it("survives concurrent CREATE ROLE of one name in concurrent migrations", async () => {
    const role = `coffer_test_race_${randomBytes(4).toString("hex")}`;
    made.push(role);
    await Promise.all(
      Array.from({ length: 6 }, () => owner.transaction((trx) => createRoleIfMissing(trx, role, "NOLOGIN"))),
    );
    const { rows } = await owner.raw("SELECT rolcanlogin FROM pg_roles WHERE rolname = ?", [role]);
    expect(rows).toEqual([{ rolcanlogin: false }]);
  });

  it("makes DATABASE_URL's user a member of coffer_app, concurrently, and it is then as limited", async () => {
    const login = `coffer_test_login_${randomBytes(4).toString("hex")}`;
    made.push(login);
    const url = new URL(tdb.url);
    url.username = login;
    const warnings = await Promise.all(
      Array.from({ length: 4 }, () => ensureAppUser(tdb.ownerUrl, url.toString())),
    );
    expect(warnings).toEqual([[], [], [], []]);
    const as = createDb(url.toString(), { poolMax: 1 });
    try {
      expect(Number((await as("wallet_ledger").count({ n: "*" }))[0]!.n)).toBeGreaterThan(0);
      expect(await refusal(as.raw("DELETE FROM admin_audit_log"))).toBe(
        "42501: permission denied for table admin_audit_log",
      );
    } finally {
      await as.destroy();
    }
  });

  it("warns when DATABASE_URL is the owner", async () => {
    const [w] = await ensureAppUser(tdb.ownerUrl, tdb.ownerUrl);
    expect(w).toMatch(/the owner of the tables/);
  });
});
