import type { Tx } from "../knex.js";

/** Users are provisioned on their first authenticated request; `id` is the JWT `sub`, verbatim. */
export async function ensureUser(trx: Tx, userId: string): Promise<void> {
  await trx.raw(`INSERT INTO users (id) VALUES (?) ON CONFLICT (id) DO NOTHING`, [userId]);
}
