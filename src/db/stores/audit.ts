import type { Tx } from "../knex.js";

export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  reason?: string | null;
  before?: unknown;
  after?: unknown;
  requestId?: string | null;
}

/**
 * Appends to `admin_audit_log`. Written in the same transaction as the change
 * it records, so a decision and its audit row commit or roll back together.
 * The table refuses UPDATE, DELETE and TRUNCATE at the database (a trigger).
 */
export async function appendAudit(trx: Tx, e: AuditEntry): Promise<void> {
  await trx("admin_audit_log").insert({
    actor: e.actor,
    action: e.action,
    target: e.target,
    reason: e.reason ?? null,
    before: e.before === undefined ? null : JSON.stringify(e.before),
    after: e.after === undefined ? null : JSON.stringify(e.after),
    request_id: e.requestId ?? null,
  });
}

export async function listAudit(trx: Tx, page: { limit: number; startingAfter?: number }) {
  const q = trx("admin_audit_log")
    .orderBy("id", "desc")
    .limit(page.limit + 1);
  if (page.startingAfter !== undefined) q.where("id", "<", page.startingAfter);
  const rows = await q;
  return { data: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
}
