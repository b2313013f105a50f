import {
  accountName,
  accountUserId,
  postingHash,
  toEntries,
  touchedUserBalances,
  userDeltas,
  type Entry,
  type Posting,
} from "../../ledger/index.js";
import type { Tx } from "../knex.js";
import { lockBalances } from "./balances.js";
import { postedHashes } from "./ledger.js";

/**
 * The legacy import's ledger writer: a page of opening postings in a fixed number
 * of statements, where `postPosting` (ledger.ts) takes six round trips a posting.
 *
 * Why a second writer: on the 2-core box `postPosting` costs 2.3 ms a posting
 * (1,000 in one transaction: 2.3 s), about 230 s for 100,000 legacy users; with
 * this, the whole import of those users, verification included, takes 11–17 s
 * on the same box while other work runs. It stays one function, writes
 * exactly the rows `postPosting` writes (same entries, same `input_hash`, same
 * balance cache update), and follows its order of work for the same reasons:
 *
 * 1. Lock every touched balance row, through `lockBalances`, so the page takes
 *    its locks in the same global order as every other writer.
 * 2. Judge the keys by a lookup made after the locks: a concurrent writer of one
 *    of these keys has then committed (we see its row) or not started.
 * 3. `ON CONFLICT DO NOTHING` still guards the insert; a key that lost is
 *    re-read and judged by its hash, like `postPosting`'s `sameOrConflict`.
 *
 * Opening postings are not user-initiated, so there is no funds check: a negative
 * legacy balance is allowed to make the wallet negative, and the import flags it.
 */

export type PostOutcome = "imported" | "already" | "conflict";

/** Each posting's key → what happened: posted now, posted before with the same amounts, or with other ones. */
export async function postOpeningBalances(
  trx: Tx,
  postings: readonly Posting[],
): Promise<Map<string, PostOutcome>> {
  const out = new Map<string, PostOutcome>();
  const prepared = postings.map((p) => {
    if (p.userInitiated) throw new Error(`postOpeningBalances cannot check funds (${p.key})`);
    const entries = toEntries(p);
    return { posting: p, entries, hash: postingHash(p, entries) };
  });
  type Prepared = (typeof prepared)[number];
  const judge = async (among: Prepared[]) => {
    const hashes = await postedHashes(
      trx,
      among.map((p) => p.posting.key),
    );
    for (const p of among) {
      const hash = hashes.get(p.posting.key);
      if (hash !== undefined) out.set(p.posting.key, hash === p.hash ? "already" : "conflict");
    }
    return among.filter((p) => !out.has(p.posting.key));
  };

  // A first look without locks: a rerun finds every key and takes no lock at all.
  let fresh = await judge(prepared);
  if (fresh.length === 0) return out;
  await lockBalances(
    trx,
    fresh.flatMap((p) => touchedUserBalances(p.entries)),
  );
  // The look that counts, after the locks (step 2 above).
  fresh = await judge(fresh);
  if (fresh.length === 0) return out;

  const ids = await insertTransactions(trx, fresh);
  const won = fresh.filter((p) => ids.has(p.posting.key));
  if (won.length < fresh.length) await judge(fresh.filter((p) => !ids.has(p.posting.key)));
  if (won.length === 0) return out;
  await insertEntries(
    trx,
    won.flatMap((p) => p.entries.map((e) => ({ transactionId: ids.get(p.posting.key)!, e }))),
  );
  await applyDeltas(
    trx,
    won.flatMap((p) => p.entries),
  );
  for (const p of won) out.set(p.posting.key, "imported");
  return out;
}

async function insertTransactions(
  trx: Tx,
  fresh: ReadonlyArray<{ posting: Posting; entries: Entry[]; hash: string }>,
): Promise<Map<string, number>> {
  const { rows } = await trx.raw<{ rows: Array<{ id: number; idempotency_key: string }> }>(
    `INSERT INTO wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, currency)
     SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key`,
    [
      fresh.map((p) => p.posting.key),
      fresh.map((p) => p.hash),
      fresh.map((p) => p.posting.kind),
      fresh.map((p) => p.posting.sourceId),
      fresh.map((p) => p.entries[0]!.currency),
    ],
  );
  return new Map(rows.map((r) => [r.idempotency_key, r.id]));
}

async function insertEntries(trx: Tx, rows: ReadonlyArray<{ transactionId: number; e: Entry }>) {
  await trx.raw(
    `INSERT INTO wallet_ledger (transaction_id, account, user_id, currency, amount_minor)
     SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::bigint[])`,
    [
      rows.map((r) => r.transactionId),
      rows.map((r) => accountName(r.e.account)),
      // Null for the platform side; knex's binding type has no nullable arrays, pg sends them as NULL.
      rows.map((r) => accountUserId(r.e.account)) as string[],
      rows.map((r) => r.e.currency),
      rows.map((r) => r.e.amountMinor),
    ],
  );
}

/** The balance cache, as `applyBalanceDelta` keeps it, for many wallets in one statement. */
async function applyDeltas(trx: Tx, entries: readonly Entry[]) {
  // userDeltas sums per (user, currency): UPDATE … FROM applies only one source row to each target row.
  const deltas = [...userDeltas(entries).values()];
  await trx.raw(
    `UPDATE user_wallet_balances b
        SET available_minor = b.available_minor + x.available, held_minor = b.held_minor + x.held,
            version = b.version + 1, updated_at = now()
       FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS x(user_id, currency, available, held)
      WHERE b.user_id = x.user_id AND b.currency = x.currency`,
    [
      deltas.map((d) => d.userId),
      deltas.map((d) => d.currency),
      deltas.map((d) => d.available),
      deltas.map((d) => d.held),
    ],
  );
}
