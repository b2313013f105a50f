import {
  insertEvent,
  insertUnusableEvent,
  markNotEnqueued,
  samePayload,
  type UnusableEvent,
} from "../db/stores/events.js";
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

/** `conflicting`: the id was seen with a different payload; nothing changed. */
export type IngestOutcome = "stored" | "duplicate" | "conflicting" | "stored_not_enqueued";

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
  if (!stored) {
    // Only Stripe's deliveries are compared: a heal lists the event from the Events API, whose
    // copy may legitimately differ from what was delivered, and a heal never overwrites anyway.
    if (receivedVia === "reconciliation") return "duplicate";
    return (await samePayload(deps.db, event.id, rawPayload)) ? "duplicate" : "conflicting";
  }
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

/**
 * A signed delivery that cannot be stored as an event is kept by its raw bytes, `failed`,
 * with no job: answering 200 stops Stripe retrying what can never succeed, and the alert
 * (the caller's) sends a person to look at it.
 */
export async function ingestUnusable(db: Db, e: UnusableEvent): Promise<"stored" | "duplicate"> {
  return (await insertUnusableEvent(db, e)) ? "stored" : "duplicate";
}
