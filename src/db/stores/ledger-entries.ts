import type { Tx } from "../knex.js";

export interface EntryRow {
  id: number;
  transaction_id: number;
  account: string;
  user_id: string | null;
  currency: string;
  amount_minor: number;
  kind: string;
  source_id: string;
  idempotency_key: string;
  event_id: string | null;
  created_at: Date;
}

export interface EntryFilter {
  userId?: string;
  account?: string;
  currency?: string;
  kind?: string;
  sourceId?: string;
  /** Entry id cursor: return entries older than this one. */
  startingAfter?: number;
  limit: number;
}

/** Lists entries newest first (legacy `get_ledger_entries`); fetches one extra row to answer `has_more`. */
export async function listEntries(trx: Tx, f: EntryFilter): Promise<{ data: EntryRow[]; hasMore: boolean }> {
  const q = trx("wallet_ledger as e")
    .join("wallet_ledger_transactions as t", "t.id", "e.transaction_id")
    .select(
      "e.id",
      "e.transaction_id",
      "e.account",
      "e.user_id",
      "e.currency",
      "e.amount_minor",
      "t.kind",
      "t.source_id",
      "t.idempotency_key",
      "t.event_id",
      "e.created_at",
    )
    .orderBy("e.id", "desc")
    .limit(f.limit + 1);
  if (f.userId !== undefined) q.where("e.user_id", f.userId);
  if (f.account !== undefined) q.where("e.account", f.account);
  if (f.currency !== undefined) q.where("e.currency", f.currency);
  if (f.kind !== undefined) q.where("t.kind", f.kind);
  if (f.sourceId !== undefined) q.where("t.source_id", f.sourceId);
  if (f.startingAfter !== undefined) q.where("e.id", "<", f.startingAfter);
  const rows: EntryRow[] = await q;
  return { data: rows.slice(0, f.limit), hasMore: rows.length > f.limit };
}
