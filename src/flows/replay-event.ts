import { appendAudit } from "../db/stores/audit.js";
import { getEvent, reopenEvent, type EventRow } from "../db/stores/events.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { ensureJob } from "../queue/enqueue.js";
import type { Queues } from "../queue/queues.js";
import { queueForEvent } from "../stripe/routing.js";
import type { FlowDeps } from "./deps.js";

/**
 * An admin replays a failed event (after fixing its cause) or an ignored one
 * (after its type gained a handler). The row is re-opened and audited in one
 * transaction; then its job is re-added, removing BullMQ's kept copy first,
 * which would otherwise swallow the add. If Redis is away the sweeper adds it.
 */
export async function replayEvent(
  deps: FlowDeps & { queues: Queues },
  r: { eventId: string; actor: string; requestId: string; reason?: string },
): Promise<EventRow> {
  const before = await getEvent(deps.db, r.eventId);
  if (!before) throw new DomainError("not_found", "no such event");
  const queue = queueForEvent(before.type);
  if (!queue) throw new DomainError("event_not_replayable", `no queue handles ${before.type}`);
  const reopened = await withTransaction(deps.db, async (trx) => {
    const row = await reopenEvent(trx, r.eventId);
    if (!row)
      throw new DomainError(
        "event_not_replayable",
        `event is ${before.status}; only failed or ignored events can be replayed`,
      );
    await appendAudit(trx, {
      actor: r.actor,
      action: "event.replay",
      target: r.eventId,
      reason: r.reason ?? null,
      before: { status: before.status, attempts: before.attempts, last_error: before.last_error },
      after: { status: row.status },
      requestId: r.requestId,
    });
    return row;
  });
  await ensureJob(deps.queues, queue, {
    id: r.eventId,
    name: before.type,
    data: { eventId: r.eventId },
  }).catch((err: unknown) =>
    deps.log.warn({ err, event_id: r.eventId }, "replay stored but not enqueued; the sweeper will"),
  );
  return reopened;
}
