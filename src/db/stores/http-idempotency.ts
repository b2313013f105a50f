import type { Tx } from "../knex.js";

export interface IdemRow {
  user_id: string;
  route: string;
  key: string;
  request_hash: string;
  state: "in_flight" | "done";
  response_status: number | null;
  response_body: unknown;
  created_at: Date;
}

/**
 * Claims (user, route, key) for one request. Returns null when this call made
 * the claim; otherwise the row that is already there. A claim left in flight by
 * a crashed process is taken over once it is older than `staleMs`.
 */
export async function claimKey(
  trx: Tx,
  k: { userId: string; route: string; key: string; requestHash: string; staleMs: number },
): Promise<IdemRow | null> {
  const { rows } = await trx.raw<{ rows: Array<{ claimed: boolean } & IdemRow> }>(
    `INSERT INTO http_idempotency_keys (user_id, route, key, request_hash, state)
     VALUES (?, ?, ?, ?, 'in_flight')
     ON CONFLICT (user_id, route, key) DO UPDATE SET created_at = now()
       WHERE http_idempotency_keys.state = 'in_flight'
         AND http_idempotency_keys.request_hash = EXCLUDED.request_hash
         AND http_idempotency_keys.created_at < now() - (? * interval '1 millisecond')
     RETURNING true AS claimed, *`,
    [k.userId, k.route, k.key, k.requestHash, k.staleMs],
  );
  if (rows.length === 1) return null;
  const existing = await trx<IdemRow>("http_idempotency_keys")
    .where({ user_id: k.userId, route: k.route, key: k.key })
    .first();
  // Deleted between our insert and select (the first request failed): report as in flight; the client retries.
  return (
    existing ?? {
      ...k,
      user_id: k.userId,
      request_hash: k.requestHash,
      state: "in_flight",
      response_status: null,
      response_body: null,
      created_at: new Date(),
    }
  );
}

export async function completeKey(
  trx: Tx,
  k: { userId: string; route: string; key: string },
  status: number,
  body: unknown,
): Promise<void> {
  await trx("http_idempotency_keys")
    .where({ user_id: k.userId, route: k.route, key: k.key })
    .update({ state: "done", response_status: status, response_body: JSON.stringify(body) });
}

/** A request that failed releases its key, so the client can retry it with the same key. */
export async function releaseKey(trx: Tx, k: { userId: string; route: string; key: string }): Promise<void> {
  await trx("http_idempotency_keys")
    .where({ user_id: k.userId, route: k.route, key: k.key, state: "in_flight" })
    .delete();
}

/** Keys are kept at least 24 h (SPEC); the sweeper deletes older ones. */
export async function purgeKeys(trx: Tx, olderThanHours: number): Promise<number> {
  return trx("http_idempotency_keys")
    .where("created_at", "<", trx.raw(`now() - (? * interval '1 hour')`, [olderThanHours]))
    .delete();
}
