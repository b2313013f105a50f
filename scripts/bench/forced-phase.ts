import type { Db } from "../../src/db/knex.js";
import type { BenchEnv } from "./env.js";
import {
  FORCED_LIFECYCLES,
  PAYMENT_MINOR,
  paymentsFor,
  playLifecycles,
  type ForcedPayment,
} from "./forced-lifecycles.js";
import { correct } from "./report.js";
import { seedTopUps } from "./seed.js";
import { standinControl as control } from "../../src/standin/client.js";
import { throughputRunner, type ThroughputResult } from "./throughput.js";
import { cofferReads } from "./seed.js";

export interface ForcedSettings {
  forcedEvents: number;
  postConnections: number;
  waitTimeoutS: number;
}

export interface LifecycleCheck {
  name: string;
  payments: number;
  events: number;
  expectAvailable: number;
  /** Payments whose own postings left the user's available balance exactly at `expectAvailable`. */
  exactPayments: number;
}

export interface ForcedResult {
  /** Timing, wallet totals and invariants, measured as the top-up scenarios are. */
  throughput: ThroughputResult;
  payments: number;
  /** Stripe API calls the worker made per delivered event, during the timed run. */
  stripeCallsPerEvent: number;
  /** Forced events the bench could not tie to a seeded payment (0 in a healthy run; not delivered). */
  stray: number;
  /** Whether the untimed crediting of the payments came out exact before the lifecycles began. */
  creditExact: boolean;
  lifecycles: LifecycleCheck[];
  /** One line per payment or wallet whose balance is not what its lifecycles should leave. */
  mismatches: string[];
}

export const FORCED_WALLETS = 100;

/**
 * Phase 3: refunds and disputes, which Stripe forces on a wallet. Payments
 * of 1,000 are topped up and credited first (untimed), then their lifecycles
 * are played at the stand-in with delivery off, and the resulting events are
 * delivered under the clock to the already-running worker, the way the top-up
 * scenarios are. Afterwards each payment's own postings and each wallet's
 * balance are compared with what the lifecycles should leave.
 */
export async function runForcedPhase(o: {
  env: BenchEnv;
  db: Db;
  webUrl: string;
  settings: ForcedSettings;
  workerCpuMs: () => number;
  log: (msg: string) => void;
}): Promise<ForcedResult> {
  const deliver = throughputRunner({
    db: o.db,
    webUrl: o.webUrl,
    secret: o.env.webhookSecret,
    connections: o.settings.postConnections,
    waitTimeoutS: o.settings.waitTimeoutS,
    workerCpuMs: o.workerCpuMs,
    stripeReads: () => cofferReads(o.env.standin),
  });

  const count = paymentsFor(o.settings.forcedEvents);
  o.log(`phase 3: seeding ${count} payments of ${PAYMENT_MINOR} over ${FORCED_WALLETS} wallets`);
  const seeded = await seedTopUps({
    webUrl: o.webUrl,
    standin: o.env.standin,
    jwtSecret: o.env.jwtSecret,
    tag: `${o.env.dbName.slice(-10)}_forced`,
    events: count,
    wallets: FORCED_WALLETS,
    amount: () => PAYMENT_MINOR,
  });
  // A refund of a payment not yet credited takes the handler's slower path (it credits first);
  // crediting up front keeps the timed run about refunds and disputes alone.
  const credit = await deliver(seeded);
  o.log(
    `phase 3: credited ${credit.processed}/${count} payments (${credit.eventsPerS.toFixed(0)} events/s, not counted)`,
  );
  if (!correct(credit))
    o.log("phase 3: WARNING the crediting was not exact; the balances below will show it");

  const played = await playLifecycles({
    standin: o.env.standin,
    control: control(o.env.standin),
    succeeded: seeded.events,
  });
  const expectedByUser = new Map<string, number>([...seeded.expectedByUser.keys()].map((u) => [u, 0]));
  for (const p of played.payments)
    expectedByUser.set(p.user, (expectedByUser.get(p.user) ?? 0) + p.lifecycle.expectAvailable);

  o.log(
    `phase 3: delivering ${played.events.length} refund and dispute events over ${FORCED_WALLETS} wallets`,
  );
  // The handlers may ask Stripe for the current objects; the stand-in runs in this process, so its
  // share of the work shows here rather than in the worker's CPU.
  const callsBefore = o.env.standin.requests().length;
  const throughput = await deliver({ wallets: FORCED_WALLETS, expectedByUser, events: played.events });
  const stripeCalls = o.env.standin.requests().length - callsBefore;
  o.log(`  ${throughput.eventsPerS.toFixed(0)} events/s, lag p99 ${throughput.lagP99Ms.toFixed(0)} ms`);

  const perPayment = await checkPayments(o.db, played.payments);
  return {
    throughput,
    payments: count,
    stripeCallsPerEvent: stripeCalls / played.events.length,
    stray: played.stray,
    creditExact: correct(credit),
    lifecycles: perPayment.lifecycles,
    mismatches: [...perPayment.mismatches, ...(await walletMismatches(o.db, expectedByUser))],
  };
}

/**
 * Sums each payment's postings on the user's available account: its capture
 * (keyed by the PaymentIntent) plus its refunds and disputes (keyed by their
 * `re_`/`dp_` ids). Per payment rather than per wallet, so a wrong result
 * names the lifecycle that produced it.
 */
async function checkPayments(
  db: Db,
  payments: ForcedPayment[],
): Promise<{ lifecycles: LifecycleCheck[]; mismatches: string[] }> {
  const sourcesOf = (p: ForcedPayment) => [
    p.piId,
    ...new Set(
      p.events
        .map((e) => String((e.data.object as { id?: unknown }).id))
        .filter((id) => /^(re|dp)_/.test(id)),
    ),
  ];
  const { rows } = await db.raw<{ rows: Array<{ source_id: string; available: number }> }>(
    `SELECT t.source_id, sum(e.amount_minor)::int8 AS available
       FROM wallet_ledger e JOIN wallet_ledger_transactions t ON t.id = e.transaction_id
      WHERE e.account = 'available' AND t.source_id = ANY(?) GROUP BY t.source_id`,
    [payments.flatMap(sourcesOf)],
  );
  const bySource = new Map(rows.map((r) => [r.source_id, r.available]));
  const lifecycles = FORCED_LIFECYCLES.map((lc) => ({
    name: lc.name,
    payments: 0,
    events: 0,
    expectAvailable: lc.expectAvailable,
    exactPayments: 0,
  }));
  const mismatches: string[] = [];
  for (const p of payments) {
    const check = lifecycles[FORCED_LIFECYCLES.indexOf(p.lifecycle)]!;
    const got = sourcesOf(p).reduce((n, s) => n + (bySource.get(s) ?? 0), 0);
    check.payments++;
    check.events += p.events.length;
    if (got === p.lifecycle.expectAvailable) check.exactPayments++;
    else
      mismatches.push(
        `${p.piId} (${p.lifecycle.name}, ${p.user}): expected ${p.lifecycle.expectAvailable}, got ${got}`,
      );
  }
  return { lifecycles, mismatches };
}

async function walletMismatches(db: Db, expected: Map<string, number>): Promise<string[]> {
  const { rows } = await db.raw<{ rows: Array<{ user_id: string; available_minor: number }> }>(
    `SELECT user_id, available_minor FROM user_wallet_balances WHERE currency = 'usd' AND user_id = ANY(?)`,
    [[...expected.keys()]],
  );
  const actual = new Map(rows.map((r) => [r.user_id, r.available_minor]));
  return [...expected].flatMap(([user, want]) => {
    const got = actual.get(user) ?? 0;
    return got === want ? [] : [`wallet ${user}: expected available ${want}, got ${got}`];
  });
}
