import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StripeEvent } from "../src/standin/index.js";
import { pay, topUp, wallet } from "./support/api.js";
import { deliver } from "./support/events.js";
import { reconcile } from "./support/reconciliation.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * The daily run meets live traffic: a charge made a moment ago is in Stripe's balance (pending)
 * before its webhook has been delivered or applied. The balance check compares both sides at the
 * stream's cut, so that is no difference; a real one still is.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1, env: { RECONCILIATION_HEAL_WAIT_MS: "30000" } });
  // The test delivers, each event only after DELIVERY_LAG_MS, so every run meets charges whose
  // events are still on the way (Stripe's own deliveries take about that long).
  sys.standin.setWebhook(undefined);
  // Coffer's books begin with its first posting; lines before it belong to the opening balance.
  const first = await topUp(sys.url, "first-buyer", 1_000, "usd", "first-buyer");
  await pay(sys.standin.url, first.body.payment_intent_id as string);
  for (const e of sys.standin.events()) expect((await deliver(sys.url, JSON.stringify(e))).status).toBe(200);
  await eventually(async () => (await wallet(sys.url, "first-buyer")).available === 1_000, {
    what: "the first credit",
  });
}, 60_000);
afterAll(async () => sys?.stop());

const DELIVERY_LAG_MS = 700;
const BUYERS = 3;

interface Traffic {
  paid: () => number;
  stop: () => Promise<void>;
}

/** Top-ups paid at the stand-in one after another per buyer, their events delivered late, until stopped. */
function startTraffic(tag: string): Traffic {
  let stopped = false;
  let paid = 0;
  const buyer = async (b: number) => {
    for (let i = 0; !stopped; i++) {
      const created = await topUp(sys.url, `${tag}-${b}`, 500 + i, "usd", `${tag}-${b}-${i}`);
      expect(created.status).toBe(201);
      await pay(sys.standin.url, created.body.payment_intent_id as string);
      paid += 1;
    }
  };
  let next = sys.standin.eventCount();
  const seenAt = new Map<string, number>();
  const due: StripeEvent[] = [];
  const pump = async (final: boolean) => {
    for (const e of sys.standin.events(next)) {
      seenAt.set(e.id, Date.now());
      due.push(e);
    }
    next = sys.standin.eventCount();
    while (due.length > 0 && (final || Date.now() - seenAt.get(due[0]!.id)! >= DELIVERY_LAG_MS)) {
      const res = await deliver(sys.url, JSON.stringify(due.shift()!));
      expect(res.status).toBe(200);
    }
  };
  const delivering = (async () => {
    while (!stopped) {
      await pump(false);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const buying = Promise.all(Array.from({ length: BUYERS }, (_, b) => buyer(b)));
  return {
    paid: () => paid,
    stop: async () => {
      stopped = true;
      await buying;
      await delivering;
      await pump(true);
      await eventually(async () => (await openEventCount(sys)) === 0, { what: "traffic's events applied" });
    },
  };
}

const snapshot = (run: { snapshots: Array<{ currency: string }> }, currency: string) =>
  run.snapshots.find((s) => s.currency === currency);

/** On a failure, what Coffer knows of each reported line's events: their status and last error. */
async function eventsOf(run: { discrepancies: { data: Array<{ ledger_key?: string | null }> } }) {
  const objects = run.discrepancies.data.map((d) => (d.ledger_key ?? "").split(":")[0] ?? "");
  if (objects.length === 0) return "";
  const { rows } = await sys.tdb.db.raw(
    `SELECT id, type, status, attempts, last_error, received_at, processed_at FROM stripe_webhook_events
      WHERE payload->'data'->'object'->>'id' = ANY(?::text[])`,
    [objects],
  );
  const ids = new Set((rows as Array<{ id: string }>).map((r) => r.id));
  // The worker's own account of them, and of the run's wait: what each job did and when.
  const said = sys.workers
    .flatMap((w) => w.lines)
    .filter(
      (l) => ids.has(l.event_id as string) || String(l.msg).startsWith("reconciliation stopped waiting"),
    )
    .map((l) => ({
      time: l.time,
      level: l.level,
      msg: l.msg,
      event_id: l.event_id,
      err: l.err,
      reason: l.reason,
    }));
  return `the lines' events: ${JSON.stringify(rows)}\nthe worker's lines on them: ${JSON.stringify(said)}`;
}

// Seen once under heavy load (a fresh-clone CI run beside a benchmark; not reproduced since, in
// isolated runs under CPU load or in three full-suite runs): a run reported each buyer's latest
// charge as "no ledger posting …: the event that books it has not been applied". A run now logs
// the events it stopped waiting for, and names each one's state in the discrepancy's reason; a
// failure here also prints them with the worker's lines on them (eventsOf). One retry until that names the cause; each case is written
// so that its retry checks the same thing again (the lines Stripe booked on its own stay booked).
describe("reconciliation under traffic", { retry: 1 }, () => {
  it("matches with 0 difference while top-ups are made and their events delivered and applied", async () => {
    const traffic = startTraffic("busy");
    try {
      await eventually(async () => traffic.paid() >= 6, { what: "traffic under way" });
      for (let r = 0; r < 3; r++) {
        const before = traffic.paid();
        const run = await reconcile(sys);
        expect(run.discrepancies.data, await eventsOf(run)).toEqual([]);
        expect(run.status).toBe("matched");
        expect(snapshot(run, "usd")).toMatchObject({ status: "matched", difference_minor: 0 });
        // The run met traffic: payments went on while it read.
        expect(traffic.paid()).toBeGreaterThan(before);
      }
    } finally {
      await traffic.stop();
    }
    await expectInvariants(sys);
    const quiet = await reconcile(sys);
    expect(quiet.status).toBe("matched");
    expect(snapshot(quiet, "usd")).toMatchObject({ difference_minor: 0 });
  });

  // Every line this case made Stripe book, a retry's too: each stays in Stripe's books and is
  // reported by every run after it.
  const owns: string[] = [];
  it("still reports a platform line Stripe booked on its own, and only that, while traffic flows", async () => {
    const traffic = startTraffic(`busy-own-${owns.length}`);
    try {
      await eventually(async () => traffic.paid() >= 6, { what: "traffic under way" });
      owns.push(sys.standin.addBalanceTransaction({ amount: -250, currency: "usd", type: "adjustment" }).id);
      const run = await reconcile(sys);
      expect(run.status).toBe("mismatch");
      const reported = [...run.discrepancies.data].sort((a, b) =>
        String(a.stripe_id).localeCompare(String(b.stripe_id)),
      );
      expect(reported, await eventsOf(run)).toEqual(
        [...owns]
          .sort()
          .map((id) =>
            expect.objectContaining({ side: "stripe", stripe_id: id, amount_minor: -250, currency: "usd" }),
          ),
      );
      expect(snapshot(run, "usd")).toMatchObject({
        status: "mismatch",
        difference_minor: -250 * owns.length,
        stripe_unmatched: owns.length,
        ledger_unmatched: 0,
      });
    } finally {
      await traffic.stop();
    }
  });
});
