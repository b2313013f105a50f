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

/** How far before a line its event may have been created (a dispute's event precedes its withdrawal). */
const LOOKBACK_S = 3_600;

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
): Promise<HealedEvent[]> {
  const wanted = new Set<string>();
  const types = new Set<string>();
  let since = Infinity;
  let until = 0;
  for (const m of missing) {
    const movement = m.ledger_key.slice(m.ledger_key.lastIndexOf(":") + 1);
    const forKey = EVENT_TYPES[movement];
    if (!forKey) continue;
    wanted.add(claimObjectId(m.ledger_key));
    for (const t of forKey) types.add(t);
    since = Math.min(since, m.created - LOOKBACK_S);
    until = Math.max(until, m.created + LOOKBACK_S);
  }
  if (wanted.size === 0) return [];

  const found: Stripe.Event[] = [];
  const list = deps.stripe.events.list({
    types: [...types],
    created: { gte: since, lte: until },
    limit: 100,
  });
  for await (const event of list) {
    const objectId = (event.data.object as { id?: unknown }).id;
    if (typeof objectId === "string" && wanted.has(objectId)) found.push(event);
  }
  const known = await eventStatuses(
    deps.db,
    found.map((e) => e.id),
  );
  const ingest = { db: deps.db, queues: deps.queues, log: () => deps.log };
  const healed: HealedEvent[] = [];
  // Oldest first, as Stripe would have sent them; handlers are order-free anyway.
  for (const event of found.reverse()) {
    if (known.has(event.id)) continue;
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
    // A duplicate means Stripe delivered it meanwhile: not a heal.
    if ((await ingestEvent(ingest, event, raw, "reconciliation")) === "duplicate") continue;
    const objectId = (event.data.object as { id: string }).id;
    healed.push({ event_id: event.id, type: event.type, object_id: objectId, status: "enqueued" });
    deps.log.info(
      { event_id: event.id, type: event.type, object_id: objectId },
      "reconciliation healed event",
    );
  }
  return waitApplied(deps, healed, waitMs);
}

/** Polls until every healed event is terminal or the wait is over; the run reports where each ended. */
async function waitApplied(deps: FlowDeps, healed: HealedEvent[], waitMs: number): Promise<HealedEvent[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const statuses = await eventStatuses(
      deps.db,
      healed.map((h) => h.event_id),
    );
    for (const h of healed) h.status = statuses.get(h.event_id)?.status ?? h.status;
    const open = healed.filter((h) => !TERMINAL_STATUSES.includes(h.status as never));
    if (open.length === 0 || Date.now() > deadline) return healed;
    await sleep(200);
  }
}
