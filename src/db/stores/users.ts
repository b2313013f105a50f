import type { Tx } from "../knex.js";

/** Users are provisioned on their first authenticated request; `id` is the JWT `sub`, verbatim. */
export async function ensureUser(trx: Tx, userId: string): Promise<void> {
  await trx.raw(`INSERT INTO users (id) VALUES (?) ON CONFLICT (id) DO NOTHING`, [userId]);
}

/** Whether a user was ever provisioned: admin views 404 for nobody rather than show an empty wallet. */
export async function userExists(trx: Tx, userId: string): Promise<boolean> {
  const { rows } = await trx.raw<{ rows: unknown[] }>(`SELECT 1 FROM users WHERE id = ?`, [userId]);
  return rows.length > 0;
}
