import { setTimeout as sleep } from "node:timers/promises";
import type Stripe from "stripe";
import { eventStatuses, TERMINAL_STATUSES } from "../db/stores/events.js";
import type { HealedEvent } from "../db/stores/reconciliation.js";
import { claimObjectId } from "../ledger/claims.js";
import type { FlowDeps } from "./deps.js";
import { ingestEvent, ingestUnusable, type IngestDeps } from "./ingest-event.js";
import { parseEvent } from "../stripe/verify.js";

/**
 * The events that book each kind of claim, by the claim's movement. Withdrawal
 * keys are absent on purpose: the executor books `wd_…:transferred` from its own
 * Stripe calls, and a missing one is a bug to look at, not an event to fetch.
 */
const EVENT_TYPES: Readonly<Record<string, readonly string[]>> = {
  captured: ["payment_intent.succeeded"],
  refunded: ["refund.created", "refund.updated", "charge.refund.updated", "refund.failed"],
  reversed: ["refund.failed", "refund.updated", "charge.refund.updated"],
  withdrawn: ["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"],
  reinstated: ["charge.dispute.funds_reinstated", "charge.dispute.closed"],
};

/**
 * A subscription invoice's charge is traced to its invoice by the InvoicePayment that names its
 * PaymentIntent: a line whose PaymentIntent Coffer does not know is healed by that event.
 */
const INVOICE_PAYMENT_TYPES = ["invoice_payment.paid"] as const;

/** The objects an event is about: its own, and for an InvoicePayment the PaymentIntent it names. */
function objectIdsOf(event: Stripe.Event): string[] {
  const o = event.data.object as { id?: unknown; object?: unknown; payment?: { payment_intent?: unknown } };
  const ids = typeof o.id === "string" ? [o.id] : [];
  const pi = o.object === "invoice_payment" ? o.payment?.payment_intent : undefined;
  if (typeof pi === "string") ids.push(pi);
  return ids;
}

/** How far before a line its event may have been created (a dispute's event precedes its withdrawal). */
const LOOKBACK_S = 3_600;

/** Where an event that books a missing line stood when the run stopped waiting. */
export interface EventState {
  event_id: string;
  type: string;
  status: string;
  last_error: string | null;
}

export interface HealResult {
  /** The events the heal ingested itself (the run's `healed_events`). */
  healed: HealedEvent[];
  /** By object id, each event found that books what a line lacks, ingested here or not. */
  found: Map<string, EventState>;
}

/**
 * The reason a line still without its posting is reported with, from what the heal learnt of the
 * event that books it: a person reading the discrepancy first needs to know whether the event
 * failed (replay it), is still on its way (the next run sees it), or never came (ask Stripe).
 * Null for a key no event books (a withdrawal's: the executor books it from its own Stripe calls).
 */
export function missingReason(key: string, state: EventState | undefined, waitMs: number): string | null {
  const movement = key.slice(key.lastIndexOf(":") + 1);
  const types = EVENT_TYPES[movement];
  if (!types) return null;
  const head = `no ledger posting ${key}`;
  if (!state)
    return `${head}: Stripe's Events API lists no ${types.join(" or ")} event for ${claimObjectId(key)} around the line's time; look it up in Stripe`;
  const ev = `its event ${state.event_id} (${state.type})`;
  const lastError = state.last_error ? ` (last error: ${state.last_error})` : "";
  if (state.status === "failed")
    return `${head}: ${ev} failed: ${state.last_error ?? "no error recorded"}; fix the cause, then replay it (POST /admin/events/${state.event_id}/replay)`;
  if (!TERMINAL_STATUSES.includes(state.status as never))
    return `${head}: ${ev} was still ${state.status} after the run's ${Math.round(waitMs / 1000)} s wait${lastError}; the next run checks it again`;
  return `${head}: ${ev} was ${state.status} without booking it; read its job's lines (event_id) before replaying it`;
}

/**
 * Heals lines whose posting is missing because their event never reached Coffer:
 * lists Stripe's events of the types that book those keys since the oldest line,
 * ingests each one about a missing object that Coffer never stored, exactly as
 * a webhook would, and waits (bounded) for them to be applied. It never posts
 * money itself: the handlers do, under the same keys as always.
 */
export async function healMissing(
  deps: FlowDeps & { queues: IngestDeps["queues"] },
  missing: ReadonlyArray<{ ledger_key: string; created: number }>,
  waitMs: number,
  unknownPayments: ReadonlyArray<{ payment_intent_id: string; created: number }> = [],
): Promise<HealResult> {
  // Per object, the event types that would book what it lacks: an event matches only for those.
  const wanted = new Map<string, Set<string>>();
  const types = new Set<string>();
  let since = Infinity;
  let until = 0;
  const want = (objectId: string, forObject: readonly string[], created: number) => {
    const set = wanted.get(objectId) ?? new Set<string>();
    wanted.set(objectId, set);
    for (const t of forObject) {
      set.add(t);
      types.add(t);
    }
    since = Math.min(since, created - LOOKBACK_S);
    until = Math.max(until, created + LOOKBACK_S);
  };
  for (const m of missing) {
    const movement = m.ledger_key.slice(m.ledger_key.lastIndexOf(":") + 1);
    const forKey = EVENT_TYPES[movement];
    if (forKey) want(claimObjectId(m.ledger_key), forKey, m.created);
  }
  for (const u of unknownPayments) want(u.payment_intent_id, INVOICE_PAYMENT_TYPES, u.created);
  if (wanted.size === 0) return { healed: [], found: new Map() };

  const found: Stripe.Event[] = [];
  const list = deps.stripe.events.list({
    types: [...types],
    created: { gte: since, lte: until },
    limit: 100,
  });
  for await (const event of list) {
    if (objectIdsOf(event).some((id) => wanted.get(id)?.has(event.type))) found.push(event);
  }
  const known = await eventStatuses(
    deps.db,
    found.map((e) => e.id),
  );
  const ingest = { db: deps.db, queues: deps.queues, log: () => deps.log };
  const healed: HealedEvent[] = [];
  // By object id, the event that books what its line lacks; where each stands is read at the end.
  const bookedBy = new Map<string, { event_id: string; type: string }>();
  // Delivered but not applied yet (under traffic, a charge the stream read a moment after it was
  // made): not a heal, but the run waits for it as for one, or its line would be reported missing.
  const inFlight: HealedEvent[] = [];
  // Oldest first, as Stripe would have sent them; handlers are order-free anyway.
  for (const event of found.reverse()) {
    const objectId = (event.data.object as { id: string }).id;
    const seen = known.get(event.id);
    for (const id of objectIdsOf(event))
      if (wanted.has(id)) bookedBy.set(id, { event_id: event.id, type: event.type });
    if (seen) {
      if (!TERMINAL_STATUSES.includes(seen.status)) {
        inFlight.push({ event_id: event.id, type: event.type, object_id: objectId, status: seen.status });
      }
      continue;
    }
    // The Events API's copy passes the same checks as a delivery: one Postgres cannot store is
    // kept raw and failed with an alert, instead of failing every run that meets it.
    const raw = JSON.stringify(event);
    const parsed = parseEvent(Buffer.from(raw));
    if (parsed.ok === "unusable") {
      await ingestUnusable(deps.db, {
        ...parsed.unusable,
        livemode: parsed.unusable.livemode ?? event.livemode,
        rawBody: Buffer.from(raw),
      });
      deps.log.error(
        { event_id: event.id, reason: parsed.unusable.reason, alert: true },
        "reconciliation found an event Coffer cannot store; kept raw and failed",
      );
      continue;
    }
    // A duplicate means Stripe delivered it meanwhile: not a heal, but maybe not applied yet either.
    if ((await ingestEvent(ingest, event, raw, "reconciliation")) === "duplicate") {
      inFlight.push({ event_id: event.id, type: event.type, object_id: objectId, status: "received" });
      continue;
    }
    healed.push({ event_id: event.id, type: event.type, object_id: objectId, status: "enqueued" });
    deps.log.info(
      { event_id: event.id, type: event.type, object_id: objectId },
      "reconciliation healed event",
    );
  }
  await waitApplied(deps, [...healed, ...inFlight], waitMs);
  // Where each one stands now, by its row (an unusable copy the heal kept is failed there too).
  const now = await eventStatuses(
    deps.db,
    [...bookedBy.values()].map((e) => e.event_id),
  );
  const states = new Map<string, EventState>();
  for (const [id, e] of bookedBy) {
    const row = now.get(e.event_id);
    states.set(id, { ...e, status: row?.status ?? "enqueued", last_error: row?.last_error ?? null });
  }
  return { healed, found: states };
}

/**
 * Polls until every event is terminal or the wait is over, updating each one's status in place.
 * Events still open when it gives up are named with their state: their lines are about to be
 * reported missing, and whether that is a stuck job or one merely slow (a Stripe rate limit's
 * backoff, a backlog) is what the person reading the discrepancy needs to know first.
 */
async function waitApplied(deps: FlowDeps, healed: HealedEvent[], waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const statuses = await eventStatuses(
      deps.db,
      healed.map((h) => h.event_id),
    );
    for (const h of healed) h.status = statuses.get(h.event_id)?.status ?? h.status;
    const open = healed.filter((h) => !TERMINAL_STATUSES.includes(h.status as never));
    if (open.length === 0) return;
    if (Date.now() > deadline) {
      deps.log.warn(
        {
          wait_ms: waitMs,
          open: open.map((h) => ({ ...h, last_error: statuses.get(h.event_id)?.last_error ?? null })),
        },
        "reconciliation stopped waiting for events still being applied; their lines are reported missing",
      );
      return;
    }
    await sleep(200);
  }
}
