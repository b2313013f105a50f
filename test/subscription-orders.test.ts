import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StripeEvent } from "../src/standin/index.js";
import { deliver } from "./support/events.js";
import { rng, withRepeats } from "./support/lifecycles.js";
import { openEventCount } from "./support/seed.js";
import { stripeFor } from "./support/stripe-client.js";
import {
  SUBSCRIPTION_LIFECYCLES,
  playSubscriptionRun,
  type SubscriptionLifecycle,
  type SubscriptionRun,
} from "./support/subscription-lifecycles.js";
import { createPlan } from "./support/subscriptions.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * Every subscription lifecycle, its events delivered in seeded random orders with 1–3 copies of
 * each, several in flight at once, worked by two worker processes: the row ends equal to Stripe's
 * final state and to in-order delivery, and no notification is recorded twice. Stripe's events
 * come many to a second here (the test clock runs a month in one call), so most orders meet ties.
 */
const ORDERS = 5;
let sys: System;
let stripe: Stripe;
const plans = new Map<number | undefined, string>();
beforeAll(async () => {
  sys = await startSystem({ workers: 2 });
  stripe = stripeFor(sys.standin);
  for (const trialDays of new Set(SUBSCRIPTION_LIFECYCLES.map((l) => l.trialDays)))
    plans.set(
      trialDays,
      (await createPlan(sys, { name: `trial ${trialDays}`, ...(trialDays && { trialDays }) })).id,
    );
  sys.standin.setWebhook(undefined); // from here on the test delivers every event
}, 180_000); // two worker processes and five plans, on a machine shared with other suites
afterAll(async () => sys?.stop());

const applied = () =>
  eventually(async () => (await openEventCount(sys)) === 0, { what: "events applied", timeoutMs: 90_000 });

/** What a run ended as: its row beside Stripe's subscription, and its notifications by kind. */
async function outcome(run: SubscriptionRun) {
  const row = await sys.tdb.db("user_subscriptions").where({ id: run.subscriptionId }).first();
  const s = await stripe.subscriptions.retrieve(run.subscriptionId, { expand: ["latest_invoice"] });
  const item = s.items.data[0]!;
  const at = (t: number | null | undefined) => (t ? new Date(t * 1000).toISOString() : null);
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const notes = await sys.tdb.db("user_notifications").where({ user_id: run.user }).orderBy("id");
  return {
    matchesStripe: {
      row: [
        row?.status,
        row?.cancel_at_period_end,
        iso(row?.current_period_start),
        iso(row?.current_period_end),
      ],
      stripe: [s.status, s.cancel_at_period_end, at(item.current_period_start), at(item.current_period_end)],
      rowEnds: [iso(row?.trial_end), iso(row?.canceled_at), iso(row?.ended_at)],
      stripeEnds: [at(s.trial_end), at(s.canceled_at), at(s.ended_at)],
      rowInvoice: [row?.latest_invoice_id, row?.latest_invoice_status],
      stripeInvoice: [(s.latest_invoice as Stripe.Invoice).id, (s.latest_invoice as Stripe.Invoice).status],
    },
    // Comparable across runs (ids and times differ): the shape of the end state.
    shape: {
      status: row?.status,
      cancelAtPeriodEnd: row?.cancel_at_period_end,
      invoice: row?.latest_invoice_status,
      notifications: notes.map((n: { kind: string }) => n.kind).sort(),
      distinctNotifications:
        new Set(notes.map((n: { dedupe_key: string }) => n.dedupe_key)).size === notes.length,
    },
  };
}

function expectConsistent(o: Awaited<ReturnType<typeof outcome>>, what: string): void {
  const m = o.matchesStripe;
  expect(m.row, what).toEqual(m.stripe);
  expect(m.rowEnds, what).toEqual(m.stripeEnds);
  expect(m.rowInvoice, what).toEqual(m.stripeInvoice);
  expect(o.shape.distinctNotifications, what).toBe(true);
}

/** Up to `width` deliveries in flight at once, in the sequence's order of starting. */
async function deliverConcurrently(events: StripeEvent[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < events.length) {
        const e = events[next++]!;
        const res = await deliver(sys.url, JSON.stringify(e));
        if (res.status !== 200) throw new Error(`delivery of ${e.id}: ${res.status}`);
      }
    }),
  );
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe.each(SUBSCRIPTION_LIFECYCLES.map((lc, i) => [lc.name, lc, i] as const))(
  "%s, in any order",
  (_name, lc: SubscriptionLifecycle, index) => {
    it(
      "ends in Stripe's final state and the in-order result, with no notification twice",
      { timeout: 240_000 },
      async () => {
        const price = plans.get(lc.trialDays)!;
        const baseline = await playSubscriptionRun(sys, lc, price, `order${index}-inorder`);
        for (const e of baseline.events) {
          await deliver(sys.url, JSON.stringify(e));
          await applied();
        }
        const expected = await outcome(baseline);
        expectConsistent(expected, "in order");
        expect(baseline.events.length).toBeGreaterThan(4);

        const rand = rng(4_200 + index);
        const runs = await Promise.all(
          Array.from({ length: ORDERS }, (_, n) =>
            playSubscriptionRun(sys, lc, price, `order${index}-p${n}`),
          ),
        );
        const sequences = runs.map((run) => withRepeats(shuffle(run.events, rand), rand));
        await Promise.all(sequences.map((seq) => deliverConcurrently(seq, 3)));
        await applied();
        for (const [n, run] of runs.entries()) {
          const got = await outcome(run);
          const what = `order ${sequences[n]!.map((e) => e.type).join(" → ")}`;
          expectConsistent(got, what);
          expect(got.shape, what).toEqual(expected.shape);
        }
        const stripeSubs = await Promise.all(
          runs.map(
            async (r) =>
              (await stripe.subscriptions.list({ customer: r.customer, status: "all" })).data.length,
          ),
        );
        expect(stripeSubs).toEqual(runs.map(() => 1)); // setup_intent.succeeded's copies made nothing more
      },
    );
  },
);
