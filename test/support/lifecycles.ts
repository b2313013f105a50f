import type Stripe from "stripe";
import type { Db } from "../../src/db/knex.js";
import type { FlowDeps } from "../../src/flows/deps.js";
import { handleCommand } from "../../src/flows/handle-command.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { budgetedStripe } from "../../src/runtime.js";
import { toCommand } from "../../src/stripe/commands.js";
import { queueForEvent } from "../../src/stripe/routing.js";
import { standinControl, type StandinControl } from "../../src/standin/client.js";
import type { Standin, StripeEvent } from "../../src/standin/index.js";
import { pay, topUpPatiently } from "./api.js";
import type { System } from "./system.js";
export { rng } from "./stripe-client.js";

/**
 * Refund and dispute lifecycles played for real at the stand-in, on a paid
 * top-up of 1,000. Each run is a separate payment (its own user and Stripe
 * objects), so many runs can share one database and be compared by the shape
 * of their postings.
 */
export const PAYMENT_MINOR = 1_000;

export interface Lifecycle {
  name: string;
  play(ctl: Control, p: { piId: string; chargeId: string }): Promise<void>;
  /** The user's available balance after the whole lifecycle. */
  expectAvailable: number;
  /** The event types that take part in permutations, in Stripe's order; others are left out. */
  types: string[];
  /** How the customer pays: by card (default), or by ACH debit (`py_…`, refunds `pyr_…`). */
  payment?: "bank_debit";
}

export type Control = StandinControl;
export const control = standinControl;

const dispute = async (c: Control, chargeId: string, body: object = {}) =>
  (await c.post(`/charges/${chargeId}/dispute`, body)).id as string;

export const LIFECYCLES: Lifecycle[] = [
  {
    name: "full refund",
    play: async (c, p) => void (await c.stripe.refunds.create({ payment_intent: p.piId })),
    expectAvailable: 0,
    types: ["payment_intent.succeeded", "refund.created", "charge.refunded"],
  },
  {
    name: "two partial refunds",
    play: async (c, p) => {
      await c.stripe.refunds.create({ payment_intent: p.piId, amount: 300 });
      await c.stripe.refunds.create({ payment_intent: p.piId, amount: 200 });
    },
    expectAvailable: 500,
    types: ["payment_intent.succeeded", "refund.created", "charge.refunded"],
  },
  {
    name: "a refund that fails",
    play: async (c, p) => {
      const re = await c.stripe.refunds.create({
        payment_intent: p.piId,
        metadata: { standin_status: "pending" },
      });
      await c.post(`/refunds/${re.id}/fail`, { failure_reason: "expired_or_canceled_card" });
    },
    expectAvailable: 1_000,
    types: [
      "payment_intent.succeeded",
      "refund.created",
      "charge.refunded",
      "refund.failed",
      "charge.refund.updated",
    ],
  },
  {
    name: "a dispute won",
    play: async (c, p) =>
      void (await c.post(`/disputes/${await dispute(c, p.chargeId)}/close`, { outcome: "won" })),
    expectAvailable: 1_000,
    types: [
      "payment_intent.succeeded",
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
      "charge.dispute.funds_reinstated",
    ],
  },
  {
    name: "a dispute lost",
    play: async (c, p) =>
      void (await c.post(`/disputes/${await dispute(c, p.chargeId)}/close`, { outcome: "lost" })),
    expectAvailable: 0,
    types: [
      "payment_intent.succeeded",
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
    ],
  },
  {
    name: "a dispute with funds withdrawn, then reinstated",
    play: async (c, p) => {
      const dp = await dispute(c, p.chargeId);
      await c.post(`/disputes/${dp}/update`, { status: "under_review" });
      await c.post(`/disputes/${dp}/close`, { outcome: "won" });
    },
    expectAvailable: 1_000,
    types: [
      "payment_intent.succeeded",
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.updated",
      "charge.dispute.closed",
      "charge.dispute.funds_reinstated",
    ],
  },
  {
    name: "an inquiry",
    play: async (c, p) => {
      const dp = await dispute(c, p.chargeId, { inquiry: true });
      await c.post(`/disputes/${dp}/update`, { status: "warning_under_review" });
      await c.post(`/disputes/${dp}/close`, { outcome: "won" });
    },
    expectAvailable: 1_000,
    types: [
      "payment_intent.succeeded",
      "charge.dispute.created",
      "charge.dispute.updated",
      "charge.dispute.closed",
    ],
  },
  {
    name: "a bank debit refunded twice",
    payment: "bank_debit",
    play: async (c, p) => {
      const first = await c.stripe.refunds.create({ payment_intent: p.piId, amount: 300 });
      const second = await c.stripe.refunds.create({ payment_intent: p.piId, amount: 200 });
      // Bank refunds stay pending until the bank pays them back.
      await c.post(`/refunds/${first.id}/succeed`);
      await c.post(`/refunds/${second.id}/succeed`);
    },
    expectAvailable: 500,
    types: [
      "payment_intent.processing",
      "payment_intent.succeeded",
      "charge.succeeded",
      "refund.created",
      "charge.refunded",
      "refund.updated",
    ],
  },
  // The dispute statuses stripe 23.1.0 added: a prevented dispute (moves nothing) and appeals of a
  // lost chargeback (an appeal won returns the money once).
  {
    name: "a prevented dispute",
    play: async (c, p) => void (await dispute(c, p.chargeId, { prevented: true })),
    expectAvailable: 1_000,
    types: ["payment_intent.succeeded", "charge.dispute.created", "charge.dispute.closed"],
  },
  {
    name: "an appeal won after a lost dispute",
    play: async (c, p) => {
      const dp = await dispute(c, p.chargeId);
      await c.post(`/disputes/${dp}/close`, { outcome: "lost" });
      await c.post(`/disputes/${dp}/update`, { status: "appeal_needs_response" });
      await c.post(`/disputes/${dp}/update`, { status: "appeal_under_review" });
      await c.post(`/disputes/${dp}/close`, { outcome: "won" });
    },
    expectAvailable: 1_000,
    types: [
      "payment_intent.succeeded",
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
      "charge.dispute.updated",
      "charge.dispute.funds_reinstated",
    ],
  },
  {
    name: "an appeal lost after a lost dispute",
    play: async (c, p) => {
      const dp = await dispute(c, p.chargeId);
      await c.post(`/disputes/${dp}/close`, { outcome: "lost" });
      await c.post(`/disputes/${dp}/update`, { status: "appeal_needs_response" });
      await c.post(`/disputes/${dp}/close`, { outcome: "lost" });
    },
    expectAvailable: 0,
    types: [
      "payment_intent.succeeded",
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
      "charge.dispute.updated",
    ],
  },
];

/**
 * The customer pays by ACH debit (a `py_…` payment) and the bank pays it: `processing`, then
 * `succeeded`. Returns the payment's id; its refunds are `pyr_…` and start `pending`.
 */
export async function payByBankDebit(standin: Standin, piId: string): Promise<string> {
  const c = control(standin);
  const paying = await c.post(`/payment_intents/${piId}/pay`, { payment_method: "pm_usBankAccount_success" });
  const paymentId = paying.latest_charge as string;
  await c.post(`/charges/${paymentId}/succeed`);
  return paymentId;
}

export interface Run {
  lifecycle: Lifecycle;
  user: string;
  piId: string;
  /** The run's events of the lifecycle's types, in the order Stripe created them. */
  events: StripeEvent[];
}

/** Pays a top-up and plays the lifecycle, with webhook delivery off: the test delivers. */
export async function playRun(baseUrl: string, standin: Standin, lc: Lifecycle, user: string): Promise<Run> {
  const start = standin.eventCount();
  const created = await topUpPatiently(baseUrl, user, PAYMENT_MINOR, "usd", `lc-${user}`);
  if (created.status !== 201) throw new Error(`top-up: ${JSON.stringify(created.body)}`);
  const piId = created.body.payment_intent_id as string;
  const chargeId =
    lc.payment === "bank_debit"
      ? await payByBankDebit(standin, piId)
      : ((await pay(standin.url, piId)).body.latest_charge as string);
  const c = control(standin);
  await lc.play(c, { piId, chargeId });
  const ours = (e: StripeEvent) => {
    const o = e.data.object as { id?: string; payment_intent?: unknown; charge?: unknown };
    return o.id === piId || o.id === chargeId || o.payment_intent === piId || o.charge === chargeId;
  };
  // Runs play concurrently, so other runs' events interleave with ours: filter by object.
  const events = standin
    .events(start)
    .filter(ours)
    .filter((e) => lc.types.includes(e.type) && queueForEvent(e.type));
  return { lifecycle: lc, user, piId, events };
}

/**
 * What a run did to the books, independent of its ids: each posting's kind and
 * its entries (account and amount), sorted. Two runs of one lifecycle that
 * converged have equal signatures. A refund debited and then reversed equals one
 * never debited: handlers act on each snapshot as it arrives, so whether the
 * pending snapshot came before the failed one decides which of the two it is,
 * and both leave the same money (SPEC: a refund known to have failed is never debited).
 */
export async function signature(db: Db, run: Run): Promise<string[]> {
  const sources = new Set<string>([run.piId]);
  for (const e of run.events) {
    const o = e.data.object as { id: string };
    if (/^(re|pyr|dp)_/.test(o.id)) sources.add(o.id);
  }
  const txn = await db("payment_transactions")
    .where({ payment_intent_id: run.piId })
    .first("balance_transaction_id");
  if (txn?.balance_transaction_id) sources.add(txn.balance_transaction_id as string);
  const rows = await db("wallet_ledger as e")
    .join("wallet_ledger_transactions as t", "t.id", "e.transaction_id")
    .whereIn("t.source_id", [...sources])
    .select("t.kind", "t.source_id", "e.account", "e.amount_minor");
  const kindsOf = (source: string) => new Set(rows.filter((r) => r.source_id === source).map((r) => r.kind));
  const undone = (r: { kind: string; source_id: string }) =>
    (r.kind === "refund" || r.kind === "refund_reversed") && kindsOf(r.source_id).has("refund_reversed");
  return rows
    .filter((r) => !undone(r))
    .map((r) => `${r.kind} ${r.account} ${r.amount_minor}`)
    .sort();
}

export function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [xs.slice()];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** Each event 1–3 times: duplicates land at random later positions, as Stripe's retries would. */
export function withRepeats<T>(order: readonly T[], rand: () => number): T[] {
  const out = [...order];
  for (const x of order) {
    const extra = Math.floor(rand() * 3);
    for (let i = 0; i < extra; i++)
      out.splice(out.indexOf(x) + 1 + Math.floor(rand() * (out.length - out.indexOf(x))), 0, x);
  }
  return out;
}

/** What the processors need, wired to this system's database and stand-in; logs go nowhere. */
export function processorDeps(sys: Pick<System, "standin" | "config" | "tdb" | "redis">): FlowDeps {
  return {
    config: sys.config,
    db: sys.tdb.db,
    // Under the same Redis budget as the workers: the stand-in enforces Stripe's rate limits.
    stripe: budgetedStripe(sys.config, sys.redis, sys.standin.url),
    metrics: createMetrics(),
    log: createLogger("silent"),
  };
}

/** Applies events one after another at the processor level (what a job runs, without the queue). */
export async function applyAtProcessor(deps: FlowDeps, events: readonly StripeEvent[]): Promise<void> {
  for (const e of events) {
    const ev = e as unknown as Stripe.Event;
    await handleCommand(deps, toCommand(ev), { eventId: ev.id, log: deps.log });
  }
}

/** Plays one run and applies its events in Stripe's order at the processor level: the reference result. */
export async function referenceSignature(
  sys: Pick<System, "url" | "standin" | "config" | "tdb" | "redis">,
  lc: Lifecycle,
  user: string,
): Promise<string[]> {
  const ref = await playRun(sys.url, sys.standin, lc, user);
  await applyAtProcessor(processorDeps(sys), ref.events);
  return signature(sys.tdb.db, ref);
}
