import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowDeps } from "../src/flows/deps.js";
import type { StripeEvent } from "../src/standin/index.js";
import { pay, topUpPatiently } from "./support/api.js";
import { deliver } from "./support/events.js";
import { control, permutations, processorDeps, rng } from "./support/lifecycles.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { until, walletRead, workerPass } from "./support/settling.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { withAdvisoryLock } from "../src/db/advisory-lock.js";
import { RECONCILIATION_LOCK } from "../src/flows/reconcile-run.js";
import { followBalanceStream } from "../src/flows/reconcile-stream.js";

/**
 * Events in any order (issue 13): a top-up's events, a refund's events, the balance stream's
 * reads of the charge and refund lines and the charge's funds becoming available at Stripe arrive
 * in many orders, with repeats, through the real web and worker. Every order must end in the
 * same wallet, available and settling, and the ledger's invariants must hold.
 *
 * Each run is one user: a 1,000 card top-up whose funds Stripe makes available a few seconds on,
 * refunded 300, and a 500 top-up that stays pending for two days (so the end state has settled
 * and settling funds in one wallet: available 1,200, settling 500). The steps:
 *
 *   A payment_intent.succeeded   B charge.succeeded      C a stream pass (then: the charge line)
 *   R the refund made at Stripe  D refund.created         E charge.refunded
 *   F a stream pass (then: both lines)                     G the charge's funds available at Stripe
 *
 * R must come before D and E (Stripe sends a refund's events after making it); every other order
 * is allowed (16 seeded orders of the 13,440, and Stripe's own). Runs are played one after another,
 * and a stream pass reads the run's window as a reconciliation run reads its own, so it sees what
 * Stripe holds of this run so far. At the end every event is applied, every charge's recorded date
 * has come, and the worker's pass has asked Stripe about each line still pending.
 */
let sys: System;
beforeAll(async () => {
  // The worker never follows the stream by itself: the steps decide when Coffer reads it.
  sys = await startSystem({ workers: 1, env: { BALANCE_STREAM_INTERVAL_MS: "0" } });
  sys.standin.setWebhook(undefined);
});
afterAll(async () => sys?.stop());

type Step = "A" | "B" | "C" | "R" | "D" | "E" | "F" | "G";
const STEPS: Step[] = ["A", "B", "C", "R", "D", "E", "F", "G"];
const ORDERS = 16;
/** Longer than a run's steps take, so a stream pass before G reads the charge line as pending. */
const AVAILABLE_AFTER_S = 8;

const valid = (o: readonly Step[]) => o.indexOf("R") < o.indexOf("D") && o.indexOf("R") < o.indexOf("E");

/** Repeats of deliveries, stream passes and G at random later places; R (a second refund) never. */
function withRepeats(order: readonly Step[], rand: () => number): Step[] {
  const out = [...order];
  for (const s of order) {
    if (s === "R") continue;
    for (let extra = Math.floor(rand() * 3); extra > 0; extra--) {
      const from = out.indexOf(s) + 1;
      out.splice(from + Math.floor(rand() * (out.length - from + 1)), 0, s);
    }
  }
  return out;
}

interface Run {
  user: string;
  piId: string;
  chargeLineId: string;
  availableOn: number;
}

const ofRun = (e: StripeEvent, piId: string, chargeId: string) => {
  const o = e.data.object as { id?: string; payment_intent?: unknown; charge?: unknown };
  return o.id === piId || o.id === chargeId || o.payment_intent === piId || o.charge === chargeId;
};

let deps: FlowDeps | undefined;
/** A stream pass over the run's window (as a reconciliation run reads its own), under the runs' lock. */
async function streamSince(from: number): Promise<void> {
  deps ??= processorDeps(sys);
  const d = deps;
  await eventually(
    async () =>
      (await withAdvisoryLock(d.db, RECONCILIATION_LOCK, () => followBalanceStream(d, { from, overlapS: 0 })))
        .acquired,
    { intervalMs: 50, what: "a stream pass" },
  );
}

async function playRun(user: string, order: readonly Step[]): Promise<Run> {
  const ctl = control(sys.standin);
  const start = sys.standin.eventCount();
  const startedAt = Math.floor(Date.now() / 1000) - 1;
  // The pending 500, credited before the steps begin: it is not part of the permutation.
  const other = await topUpPatiently(sys.url, user, 500, "usd", `${user}-other`);
  await pay(sys.standin.url, other.body.payment_intent_id as string);
  for (const e of sys.standin.events(start))
    if (e.type === "payment_intent.succeeded") await deliver(sys.url, e as never);

  const created = await topUpPatiently(sys.url, user, 1_000, "usd", `${user}-main`);
  const piId = created.body.payment_intent_id as string;
  sys.standin.setAvailableAfter(AVAILABLE_AFTER_S);
  let chargeId: string;
  try {
    chargeId = (await pay(sys.standin.url, piId)).body.latest_charge as string;
  } finally {
    sys.standin.setAvailableAfter(undefined);
  }
  const charge = await ctl.stripe.charges.retrieve(chargeId, { expand: ["balance_transaction"] });
  const line = charge.balance_transaction as { id: string; available_on: number };
  const eventOf = (type: string) => {
    const e = sys.standin.events(start).find((x) => x.type === type && ofRun(x, piId, chargeId));
    if (!e) throw new Error(`${user}: no ${type} yet`);
    return e;
  };
  const act: Record<Step, () => Promise<unknown>> = {
    A: () => deliver(sys.url, eventOf("payment_intent.succeeded") as never),
    B: () => deliver(sys.url, eventOf("charge.succeeded") as never),
    C: () => streamSince(startedAt),
    R: () => ctl.stripe.refunds.create({ payment_intent: piId, amount: 300 }),
    D: () => deliver(sys.url, eventOf("refund.created") as never),
    E: () => deliver(sys.url, eventOf("charge.refunded") as never),
    F: () => streamSince(startedAt),
    // Stripe makes the funds available now; again (already available) it refuses, as Stripe would.
    G: () =>
      ctl
        .post(`/balance_transactions/${line.id}/available_on`, { available_on: charge.created })
        .catch(() => null),
  };
  for (const s of order) {
    const res = await act[s]();
    if (res instanceof Response && res.status !== 200) throw new Error(`${user} ${s}: ${res.status}`);
  }
  return { user, piId, chargeLineId: line.id, availableOn: line.available_on };
}

describe("settled funds, events in any order", () => {
  it(
    "every order of the lifecycle, with repeats, ends in the same wallet, and the ledger holds",
    { timeout: 120_000 },
    async () => {
      const rand = rng(13);
      const orders = permutations(STEPS)
        .filter(valid)
        .sort(() => rand() - 0.5)
        .slice(0, ORDERS);
      const played: Array<{ run: Run; sequence: Step[] }> = [];
      for (const [n, order] of [STEPS, ...orders].entries()) {
        const sequence = n === 0 ? order : withRepeats(order, rand);
        played.push({ run: await playRun(`order-${n}`, sequence), sequence });
      }
      expect(new Set(played.map((p) => p.sequence.join(""))).size).toBe(played.length);

      // Every event applied (a charge.refunded that came first waits for its refund's events).
      await eventually(async () => (await openEventCount(sys)) === 0, {
        timeoutMs: 60_000,
        what: "events applied",
      });
      // Every charge's recorded date has come; the worker's passes have Stripe's word on each.
      await until(Math.max(...played.map((p) => p.run.availableOn)));
      for (;;) {
        const pass = await workerPass(sys);
        if (pass.recheck.reads === 0) break;
      }

      const failures: string[] = [];
      for (const { run, sequence } of played) {
        const { balance } = await walletRead(sys, run.user);
        const got = {
          available: balance.available_minor,
          settling: balance.settling_minor,
          held: balance.held_minor,
        };
        if (JSON.stringify(got) !== JSON.stringify({ available: 1_200, settling: 500, held: 0 })) {
          failures.push(`${sequence.join(" ")}: ${JSON.stringify(got)}`);
        }
      }
      expect(failures).toEqual([]);
      await expectInvariants(sys);
    },
  );
});
