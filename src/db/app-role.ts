import pg from "pg";

/**
 * The application's database role (created by migrations/20261203000200_app_role.ts, which
 * grants it rows and nothing else). Terminology:
 * - the owner: the role of DATABASE_OWNER_URL, which runs migrations and owns every table;
 * - the app user: the role of DATABASE_URL, which web, workers and scripts connect as. It is
 *   `coffer_app` itself, or a login role that is a member of it (so a deployment can keep its
 *   own login names and passwords, and rotate them, while the grants stay on one role).
 */
export const APP_ROLE = "coffer_app";

const RACED = new Set(["42710", "23505"]); // duplicate_object, unique_violation: another migrator won

/**
 * Run after migrating, as the owner: makes the app user able to act as coffer_app, and says
 * what would defeat least privilege. A missing app user is created (LOGIN, with the URL's
 * password if it has one: convenient for docker compose; in production create it yourself,
 * since a password in CREATE ROLE may reach the server's statement log) and made a member.
 * Returns warnings, one line each; none when the app user is a plain member of coffer_app.
 */
export async function ensureAppUser(ownerUrl: string, appUrl: string): Promise<string[]> {
  const url = new URL(appUrl);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const owner = (await client.query<{ u: string }>("SELECT current_user AS u")).rows[0]!.u;
    if (!user) return ["DATABASE_URL names no user, so least privilege cannot be checked"];
    if (user === owner) {
      return [
        `DATABASE_URL connects as ${owner}, the owner of the tables, so the application could change ` +
          `or drop them: point DATABASE_URL at ${APP_ROLE} (or a member of it) and DATABASE_OWNER_URL at the owner`,
      ];
    }
    const quoted = client.escapeIdentifier(user);
    if (user !== APP_ROLE) {
      const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [user]);
      if (!exists.rowCount) {
        const pw = password ? ` PASSWORD ${client.escapeLiteral(password)}` : "";
        await raceSafe(client.query(`CREATE ROLE ${quoted} LOGIN${pw} IN ROLE ${APP_ROLE}`));
      }
      const member = await client.query<{ m: boolean }>("SELECT pg_has_role($1, $2, 'MEMBER') AS m", [
        user,
        APP_ROLE,
      ]);
      if (!member.rows[0]!.m) await raceSafe(client.query(`GRANT ${APP_ROLE} TO ${quoted}`));
    }
    return await privilegeWarnings(client, user);
  } finally {
    await client.end();
  }
}

async function raceSafe(q: Promise<unknown>): Promise<void> {
  try {
    await q;
  } catch (err) {
    if (!RACED.has((err as { code?: string }).code ?? "")) throw err;
  }
}

/** What would let `user` get round the grants: being a superuser, or owning a table. */
async function privilegeWarnings(client: pg.Client, user: string): Promise<string[]> {
  const { rows } = await client.query<{ rolsuper: boolean; owned: number }>(
    `SELECT r.rolsuper,
            (SELECT count(*)::int FROM pg_class c
              WHERE c.relowner = r.oid AND c.relnamespace = 'public'::regnamespace) AS owned
       FROM pg_roles r WHERE r.rolname = $1`,
    [user],
  );
  const row = rows[0];
  const warnings: string[] = [];
  if (row?.rolsuper) warnings.push(`DATABASE_URL's user ${user} is a superuser: grants do not bind it`);
  if (row && row.owned > 0)
    warnings.push(`DATABASE_URL's user ${user} owns ${row.owned} relations in public`);
  return warnings;
}
