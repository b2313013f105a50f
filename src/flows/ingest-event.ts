import { insertEvent, markNotEnqueued } from "../db/stores/events.js";
import type { Db } from "../db/knex.js";
import type { Logger } from "../logger.js";
import { enqueueEvent } from "../queue/enqueue.js";
import type { Queues } from "../queue/queues.js";
import { queueForEvent } from "../stripe/routing.js";

export interface IngestDeps {
  db: Db;
  queues: Queues;
  /** Built only when something is logged: the webhook's happy path logs nothing. */
  log: () => Logger;
}

/** The fields of a verified Stripe event that ingestion reads; the raw text is stored whole. */
export interface IncomingEvent {
  id: string;
  type: string;
  livemode: boolean;
  api_version?: string | null;
  account?: string | null;
  created: number;
}

export type IngestOutcome = "stored" | "duplicate" | "stored_not_enqueued";

/**
 * The one way an event enters Coffer, whether Stripe delivered it or a reconciliation
 * heal listed it from the Events API: the same row (`ON CONFLICT DO NOTHING` on the
 * event id), then the same job (`jobId` = event id). So a healed event that Stripe
 * delivers later is a duplicate like any other. If Redis refuses the job, the row is
 * committed anyway and the workers' sweeper enqueues it.
 *
 * Database errors propagate: the webhook answers 503 so that Stripe retries.
 */
export async function ingestEvent(
  deps: IngestDeps,
  event: IncomingEvent,
  rawPayload: string,
  receivedVia: "webhook" | "reconciliation",
): Promise<IngestOutcome> {
  const queue = queueForEvent(event.type);
  const stored = await insertEvent(deps.db, {
    id: event.id,
    type: event.type,
    livemode: event.livemode,
    apiVersion: event.api_version ?? null,
    account: event.account ?? null,
    created: event.created,
    rawPayload,
    status: queue ? "enqueued" : "ignored",
    receivedVia,
  });
  if (!stored) return "duplicate";
  if (!queue) return "stored";
  try {
    await enqueueEvent(deps.queues, queue, event.id, event.type);
    return "stored";
  } catch (err) {
    deps
      .log()
      .warn({ err, event_id: event.id }, "event stored but not enqueued; the sweeper will enqueue it");
    await markNotEnqueued(deps.db, event.id, `enqueue failed: ${String(err)}`).catch(() => undefined);
    return "stored_not_enqueued";
  }
}
