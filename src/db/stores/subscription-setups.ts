import type { Tx } from "../knex.js";

/**
 * `subscription_setups`: one per `POST /v1/subscriptions`, keyed by (user, Idempotency-Key) like
 * top-ups. Written before the SetupIntent exists, so that intent's metadata can name it; it then
 * mirrors the intent's status (as of `stripe_updated`) and records the subscription made from it.
 */
export interface SetupRow {
  id: string;
  user_id: string;
  idempotency_key: string;
  price_id: string;
  customer_id: string | null;
  setup_intent_id: string | null;
  client_secret: string | null;
  status: string;
  last_error: string | null;
  subscription_id: string | null;
  stripe_updated: number;
  created_at: Date;
  updated_at: Date;
}

export async function insertCreatingSetup(
  trx: Tx,
  r: { id: string; userId: string; idempotencyKey: string; priceId: string },
): Promise<SetupRow> {
  const { rows } = await trx.raw<{ rows: SetupRow[] }>(
    `INSERT INTO subscription_setups (id, user_id, idempotency_key, price_id, status)
     VALUES (?, ?, ?, ?, 'creating')
     ON CONFLICT (user_id, idempotency_key) DO UPDATE SET updated_at = subscription_setups.updated_at
     RETURNING *`,
    [r.id, r.userId, r.idempotencyKey, r.priceId],
  );
  return rows[0]!;
}

export async function getSetupByKey(
  trx: Tx,
  userId: string,
  idempotencyKey: string,
): Promise<SetupRow | undefined> {
  return trx<SetupRow>("subscription_setups")
    .where({ user_id: userId, idempotency_key: idempotencyKey })
    .first();
}

export async function getSetup(trx: Tx, id: string): Promise<SetupRow | undefined> {
  return trx<SetupRow>("subscription_setups").where({ id }).first();
}

export async function lockSetup(trx: Tx, id: string): Promise<SetupRow | undefined> {
  return trx<SetupRow>("subscription_setups").where({ id }).forUpdate().first();
}

/** The setup a SetupIntent belongs to: by its id, or (before the route recorded it) by its metadata. */
export async function findSetupOf(
  trx: Tx,
  setupIntentId: string,
  setupId: string | undefined,
): Promise<SetupRow | undefined> {
  const bound = await trx<SetupRow>("subscription_setups").where({ setup_intent_id: setupIntentId }).first();
  if (bound || setupId === undefined) return bound;
  return getSetup(trx, setupId);
}

/** Never rebinds: a SetupIntent already bound here (by the route or a webhook) keeps it. */
export async function attachSetupIntent(
  trx: Tx,
  id: string,
  si: { id: string; customerId: string; clientSecret: string | null; status: string },
): Promise<SetupRow | undefined> {
  const [row] = await trx<SetupRow>("subscription_setups")
    .where({ id })
    .where((w) => w.whereNull("setup_intent_id").orWhere({ setup_intent_id: si.id }))
    .update({
      setup_intent_id: si.id,
      customer_id: si.customerId,
      client_secret: si.clientSecret,
      // A webhook may have moved the status on already; `creating` is the only one this replaces.
      status: trx.raw("CASE WHEN status = 'creating' THEN ? ELSE status END", [si.status]),
      updated_at: trx.fn.now(),
    })
    .returning("*");
  return row;
}

export async function updateSetup(
  trx: Tx,
  id: string,
  patch: Partial<
    Pick<
      SetupRow,
      "status" | "last_error" | "subscription_id" | "stripe_updated" | "setup_intent_id" | "customer_id"
    >
  >,
): Promise<void> {
  await trx("subscription_setups")
    .where({ id })
    .update({ ...patch, updated_at: trx.fn.now() });
}
