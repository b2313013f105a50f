import {
  accountName,
  accountUserId,
  DomainError,
  postingHash,
  toEntries,
  userDeltas,
  type Posting,
} from "../../ledger/index.js";
import type { Tx } from "../knex.js";
import { prepared, type Statement } from "../prepared.js";

export interface PostResult {
  transactionId: number;
  /** False when the key had already been posted with the same inputs: nothing moved this time. */
  applied: boolean;
}

/**
 * Writes one posting: its transaction row, its entries and the balance cache,
 * all inside the caller's database transaction, in one round trip to
 * `coffer_post_posting` (migrations/20261203000400_post_posting_function.ts),
 * which works in this order, and why:
 * 1. Lock the user balance rows first, in the global order (balances.ts), so two
 *    postings for one wallet serialize instead of losing an update.
 * 2. Look the key up only after the locks: a concurrent poster of the same key
 *    for the same wallet has then either committed (we see its row) or not started.
 * 3. Check funds before inserting anything, so a refusal writes nothing.
 * 4. `ON CONFLICT DO NOTHING` on the key still guards postings with no user
 *    account (fees), where no balance lock serializes the two writers.
 * What the entries are, their hash and the net change per wallet are worked out here, by the
 * pure domain; the function only stores them. A refusal comes back as an outcome and is thrown
 * here, so the caller's transaction is still usable after it (nothing was written).
 */
export async function postPosting(
  trx: Tx,
  posting: Posting,
  ctx: { eventId?: string } = {},
): Promise<PostResult> {
  const entries = toEntries(posting);
  const hash = postingHash(posting, entries);
  const deltas = [...userDeltas(entries).values()];
  const { rows } = await prepared<{ transaction_id: number | null; outcome: string }>(trx, POST_POSTING, [
    posting.key,
    hash,
    posting.kind,
    posting.sourceId,
    ctx.eventId ?? null,
    entries[0]!.currency,
    entries.map((e) => accountName(e.account)),
    entries.map((e) => accountUserId(e.account)),
    entries.map((e) => e.amountMinor),
    deltas.map((d) => d.userId),
    deltas.map((d) => d.available),
    deltas.map((d) => d.held),
    posting.userInitiated,
  ]);
  const { transaction_id: transactionId, outcome } = rows[0]!;
  if (outcome === "insufficient_funds") {
    const short = deltas.find((d) => d.available < 0) ?? deltas[0];
    throw new DomainError("insufficient_funds", "the available balance does not cover this amount", {
      currency: short?.currency ?? entries[0]!.currency,
    });
  }
  if (outcome === "conflict") throw conflict(posting);
  return { transactionId: transactionId!, applied: outcome === "applied" };
}

const POST_POSTING: Statement = {
  name: "coffer_post_posting",
  text: `SELECT transaction_id, outcome FROM coffer_post_posting(
    $1, $2, $3, $4, $5, $6, $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[], $12::bigint[], $13)`,
};

interface KeyRow {
  id: number;
  input_hash: string;
}

async function findByKey(trx: Tx, key: string): Promise<KeyRow | undefined> {
  return trx("wallet_ledger_transactions").select("id", "input_hash").where({ idempotency_key: key }).first();
}

const conflict = (posting: Posting) =>
  new DomainError(
    "ledger_idempotency_conflict",
    `posting ${posting.key} was already made with other amounts`,
    {
      key: posting.key,
    },
  );

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
