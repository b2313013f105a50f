import {
  accountName,
  accountUserId,
  DomainError,
  postingHash,
  toEntries,
  touchedUserBalances,
  userDeltas,
  type Posting,
} from "../../ledger/index.js";
import type { Tx } from "../knex.js";
import { applyBalanceDelta, balanceKey, lockBalances } from "./balances.js";

export interface PostResult {
  transactionId: number;
  /** False when the key had already been posted with the same inputs: nothing moved this time. */
  applied: boolean;
}

/**
 * Writes one posting: its transaction row, its entries and the balance cache,
 * all inside the caller's database transaction.
 *
 * Order of work, and why:
 * 1. Lock the user balance rows first, in the global order (balances.ts), so two
 *    postings for one wallet serialize instead of losing an update.
 * 2. Look the key up only after the locks: a concurrent poster of the same key
 *    for the same wallet has then either committed (we see its row) or not started.
 * 3. Check funds before inserting anything, so a refusal writes nothing.
 * 4. `ON CONFLICT DO NOTHING` on the key still guards postings with no user
 *    account (fees), where no balance lock serializes the two writers.
 */
export async function postPosting(
  trx: Tx,
  posting: Posting,
  ctx: { eventId?: string } = {},
): Promise<PostResult> {
  const entries = toEntries(posting);
  const hash = postingHash(posting, entries);
  const locked = await lockBalances(trx, touchedUserBalances(entries));

  const existing = await findByKey(trx, posting.key);
  if (existing) return sameOrConflict(posting, hash, existing);

  const deltas = [...userDeltas(entries).values()];
  if (posting.userInitiated) {
    for (const d of deltas) {
      const row = locked.get(balanceKey(d.userId, d.currency));
      if (!row || row.available_minor + d.available < 0) {
        throw new DomainError("insufficient_funds", "the available balance does not cover this amount", {
          currency: d.currency,
        });
      }
    }
  }

  const currency = entries[0]!.currency;
  const inserted = await trx.raw<{ rows: Array<{ id: number }> }>(
    `INSERT INTO wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, event_id, currency)
     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
    [posting.key, hash, posting.kind, posting.sourceId, ctx.eventId ?? null, currency],
  );
  const transactionId = inserted.rows[0]?.id;
  if (transactionId === undefined) {
    const winner = await findByKey(trx, posting.key);
    if (!winner) throw new Error(`posting ${posting.key} conflicted but cannot be read`);
    return sameOrConflict(posting, hash, winner);
  }

  await trx("wallet_ledger").insert(
    entries.map((e) => ({
      transaction_id: transactionId,
      account: accountName(e.account),
      user_id: accountUserId(e.account),
      currency: e.currency,
      amount_minor: e.amountMinor,
    })),
  );
  for (const d of deltas) await applyBalanceDelta(trx, d);
  return { transactionId, applied: true };
}

interface KeyRow {
  id: number;
  input_hash: string;
}

async function findByKey(trx: Tx, key: string): Promise<KeyRow | undefined> {
  return trx("wallet_ledger_transactions").select("id", "input_hash").where({ idempotency_key: key }).first();
}

function sameOrConflict(posting: Posting, hash: string, row: KeyRow): PostResult {
  if (row.input_hash !== hash) {
    throw new DomainError(
      "ledger_idempotency_conflict",
      `posting ${posting.key} was already made with other amounts`,
      {
        key: posting.key,
      },
    );
  }
  return { transactionId: row.id, applied: false };
}

/** Whether a money movement has been booked; e.g. a refund is reversed only if it was debited. */
export async function isPosted(trx: Tx, key: string): Promise<boolean> {
  return (await findByKey(trx, key)) !== undefined;
}

/**
 * The input hashes of the postings already made under these keys, in one round trip: how batch
 * writers (the reconciliation stream, the legacy import) skip what is booked and spot a key
 * booked with other amounts before writing anything.
 */
export async function postedHashes(trx: Tx, keys: readonly string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const { rows } = await trx.raw<{ rows: Array<{ idempotency_key: string; input_hash: string }> }>(
    `SELECT idempotency_key, input_hash FROM wallet_ledger_transactions WHERE idempotency_key = ANY(?::text[])`,
    [[...keys]],
  );
  return new Map(rows.map((r) => [r.idempotency_key, r.input_hash]));
}
