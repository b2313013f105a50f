import type { Standin, StripeEvent } from "../../src/standin/index.js";
import { mapLimit } from "./seed.js";
import type { StandinControl as Control } from "../../src/standin/client.js";

/** Every forced payment is a top-up of this much, so each lifecycle leaves a known balance. */
export const PAYMENT_MINOR = 1_000;

/**
 * The refund and dispute lifecycles the bench plays: Stripe debits the
 * wallet without the user asking. `events` is what the stand-in emits for
 * one run, used only to size the plan; the report counts the real events.
 */
export interface ForcedLifecycle {
  name: string;
  events: number;
  /** What the payment leaves on the user's available balance once every event is applied. */
  expectAvailable: number;
  play(c: Control, p: { piId: string; chargeId: string }): Promise<void>;
}

const dispute = async (c: Control, chargeId: string) =>
  (await c.post(`/charges/${chargeId}/dispute`)).id as string;

export const FORCED_LIFECYCLES: readonly ForcedLifecycle[] = [
  {
    name: "full refund",
    events: 2,
    expectAvailable: 0,
    play: async (c, p) => void (await c.stripe.refunds.create({ payment_intent: p.piId })),
  },
  {
    name: "partial refunds 300+200",
    events: 4,
    expectAvailable: 500,
    play: async (c, p) => {
      await c.stripe.refunds.create({ payment_intent: p.piId, amount: 300 });
      await c.stripe.refunds.create({ payment_intent: p.piId, amount: 200 });
    },
  },
  {
    name: "dispute won",
    events: 4,
    expectAvailable: PAYMENT_MINOR,
    play: async (c, p) =>
      void (await c.post(`/disputes/${await dispute(c, p.chargeId)}/close`, { outcome: "won" })),
  },
  {
    name: "dispute lost",
    events: 3,
    expectAvailable: 0,
    play: async (c, p) =>
      void (await c.post(`/disputes/${await dispute(c, p.chargeId)}/close`, { outcome: "lost" })),
  },
];

/** The event types a refund or a dispute produces; everything else the stand-in emits is left out. */
const FORCED_TYPE =
  /^(refund\.(created|updated|failed)|charge\.refunded|charge\.refund\.updated|charge\.dispute\..+)$/;

/** Payments needed for about `targetEvents` forced events, with the lifecycles in equal shares. */
export function paymentsFor(targetEvents: number): number {
  const perPayment = FORCED_LIFECYCLES.reduce((n, lc) => n + lc.events, 0) / FORCED_LIFECYCLES.length;
  return Math.max(FORCED_LIFECYCLES.length, Math.round(targetEvents / perPayment));
}

export interface ForcedPayment {
  lifecycle: ForcedLifecycle;
  user: string;
  piId: string;
  chargeId: string;
  /** The payment's own forced events, in the order Stripe created them. */
  events: StripeEvent[];
}

const LIFECYCLE_CONCURRENCY = 16;

/**
 * Plays each payment's lifecycle at the stand-in (webhook delivery is off,
 * so the events only pile up in its memory), then sorts the new events out
 * by the payment their object belongs to.
 */
export async function playLifecycles(o: {
  standin: Standin;
  control: Control;
  /** One `payment_intent.succeeded` per payment, already credited. */
  succeeded: readonly StripeEvent[];
}): Promise<{ payments: ForcedPayment[]; events: StripeEvent[]; stray: number }> {
  // A user's k-th payment gets lifecycle (first-seen rank of the user + k): every wallet holds a
  // mix, so refunds and disputes of one user meet on one balance row, and the shares stay equal.
  const rank = new Map<string, { first: number; seen: number }>();
  const payments: ForcedPayment[] = o.succeeded.map((e) => {
    const pi = e.data.object as { id: string; latest_charge: string; metadata: { user_id: string } };
    const user = pi.metadata.user_id;
    const r = rank.get(user) ?? { first: rank.size, seen: 0 };
    rank.set(user, { first: r.first, seen: r.seen + 1 });
    return {
      lifecycle: FORCED_LIFECYCLES[(r.first + r.seen) % FORCED_LIFECYCLES.length]!,
      user,
      piId: pi.id,
      chargeId: pi.latest_charge,
      events: [],
    };
  });
  const start = o.standin.eventCount();
  await mapLimit(payments, LIFECYCLE_CONCURRENCY, (p) => p.lifecycle.play(o.control, p));

  const byObject = new Map<string, ForcedPayment>();
  for (const p of payments) byObject.set(p.piId, p).set(p.chargeId, p);
  const events: StripeEvent[] = [];
  let stray = 0;
  // Kept in the order Stripe created them: that is the order a real endpoint would be sent them.
  for (const e of o.standin.events(start)) {
    if (!FORCED_TYPE.test(e.type)) continue;
    // A refund or dispute names its charge and PaymentIntent; `charge.refunded` carries the charge.
    const obj = e.data.object as { id?: unknown; charge?: unknown; payment_intent?: unknown };
    const owner = [obj.payment_intent, obj.charge, obj.id]
      .map((k) => (typeof k === "string" ? byObject.get(k) : undefined))
      .find((p) => p !== undefined);
    if (!owner) {
      stray++;
      continue;
    }
    owner.events.push(e);
    events.push(e);
  }
  return { payments, events, stray };
}
