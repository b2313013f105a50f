import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInvariants } from "../src/db/stores/ledger-checks.js";
import { postPosting } from "../src/db/stores/ledger.js";
import { withTransaction } from "../src/db/transaction.js";
import { withdrawalHold } from "../src/ledger/movements.js";
import type { Currency } from "../src/money/currencies.js";
import { api, wallet } from "./support/api.js";
import { chargeObject, deliver, eventEnvelope, fixture, stripeId } from "./support/events.js";
import { control, LIFECYCLES, playRun, type Run } from "./support/lifecycles.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/** Refunds that outrun their payment, and events that must fail without moving money. */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
  sys.standin.setWebhook(undefined);
});
afterAll(async () => sys?.stop());

const fullRefund = LIFECYCLES.find((l) => l.name === "full refund")!;
const partials = LIFECYCLES.find((l) => l.name === "two partial refunds")!;
const settled = () => eventually(async () => (await openEventCount(sys)) === 0, { what: "events settled" });
const send = async (events: Run["events"]) => {
  for (const e of events) expect((await deliver(sys.url, e as never)).status).toBe(200);
};
const ledgerFor = (piId: string) =>
  sys.tdb.db("wallet_ledger_transactions").where({ source_id: piId }).pluck("kind");
const event = (id: string) => sys.tdb.db("stripe_webhook_events").where({ id }).first();

describe("a refund before its payment is credited", () => {
  it("converges once the payment's own event arrives", async () => {
    const run = await playRun(sys.url, sys.standin, partials, "early-1");
    const [payment, ...refunds] = run.events;
    await send(refunds);
    await settled();
    // Stripe said the payment succeeded, so it was credited first, then refunded.
    expect(await wallet(sys.url, "early-1")).toEqual({ available: 500, pending: 0, held: 0 });
    await send([payment!]);
    await settled();
    expect(await wallet(sys.url, "early-1")).toEqual({ available: 500, pending: 0, held: 0 });
    expect(await ledgerFor(run.piId)).toEqual(["payment_captured"]);
    await expectInvariants(sys);
  });

  it("converges when the payment's event never arrives, because Stripe says it succeeded", async () => {
    const run = await playRun(sys.url, sys.standin, fullRefund, "early-2");
    await send(run.events.filter((e) => e.type !== "payment_intent.succeeded"));
    await settled();
    expect(await wallet(sys.url, "early-2")).toEqual({ available: 0, pending: 0, held: 0 });
    expect(await ledgerFor(run.piId)).toEqual(["payment_captured"]);
    const topUps = await api(sys.url, "GET", "/v1/wallet/top-ups", { user: "early-2" });
    expect(topUps.body.data).toEqual([
      expect.objectContaining({ payment_intent_id: run.piId, status: "succeeded", refunded_minor: 1_000 }),
    ]);
    const ledger = await api(sys.url, "GET", "/v1/wallet/ledger", { user: "early-2" });
    const refundId = (run.events.find((e) => e.type === "refund.created")!.data.object as { id: string }).id;
    expect(
      ledger.body.data.map((e: { kind: string; source_id: string; amount_minor: number }) => [
        e.kind,
        e.source_id,
        e.amount_minor,
      ]),
    ).toEqual([
      ["refund", refundId, -1_000],
      ["payment_captured", run.piId, 1_000],
    ]);
  });

  it("lets a Stripe-forced debit take a wallet below zero, and the check lists it", async () => {
    const run = await playRun(sys.url, sys.standin, fullRefund, "negative-1");
    await send(run.events.filter((e) => e.type === "payment_intent.succeeded"));
    await settled();
    // The user moved 800 into a withdrawal hold before Stripe took the refund back.
    await withTransaction(sys.tdb.db, (trx) =>
      postPosting(
        trx,
        withdrawalHold("wd_neg", "negative-1", { amountMinor: 800, currency: "usd" as Currency }),
      ),
    );
    await send(run.events.filter((e) => e.type !== "payment_intent.succeeded"));
    await settled();
    expect(await wallet(sys.url, "negative-1")).toEqual({ available: -800, pending: 0, held: 800 });
    const report = await checkInvariants(sys.tdb.db);
    expect(report.ok).toBe(true);
    expect(report.negativeBalances).toContainEqual({
      userId: "negative-1",
      currency: "usd",
      availableMinor: "-800",
    });
  });
});

describe("a refund after a sibling failed at Stripe, before that failure's event arrives", () => {
  it("re-reads the sibling instead of refusing, and ends with exactly what Stripe refunded", async () => {
    const run = await playRun(
      sys.url,
      sys.standin,
      { ...fullRefund, play: async () => undefined, types: ["payment_intent.succeeded"] },
      "sibling-1",
    );
    await send(run.events);
    await settled();
    const stripe = control(sys.standin);
    const before = sys.standin.eventCount();
    const r1 = await stripe.stripe.refunds.create({
      payment_intent: run.piId,
      amount: 600,
      metadata: { standin_status: "pending" },
    });
    const r1Created = sys.standin.events(before).filter((e) => e.type === "refund.created");
    await send(r1Created);
    await settled();
    expect((await wallet(sys.url, "sibling-1")).available).toBe(400);

    // R1 fails at Stripe, R2 (500) is made; R2's events arrive before R1's failure does.
    const mark = sys.standin.eventCount();
    await stripe.post(`/refunds/${r1.id}/fail`, {});
    const r1Failure = sys.standin.events(mark);
    const mark2 = sys.standin.eventCount();
    await stripe.stripe.refunds.create({ payment_intent: run.piId, amount: 500 });
    await send(
      sys.standin.events(mark2).filter((e) => e.type === "refund.created" || e.type === "charge.refunded"),
    );
    await settled();
    expect((await wallet(sys.url, "sibling-1")).available).toBe(500);
    await send(r1Failure.filter((e) => e.type === "refund.failed" || e.type === "charge.refund.updated"));
    await settled();
    expect((await wallet(sys.url, "sibling-1")).available).toBe(500);
    expect(
      await sys.tdb
        .db("stripe_webhook_events")
        .where({ status: "failed" })
        .whereIn("type", ["refund.created", "charge.refunded"])
        .count({ n: "*" })
        .first(),
    ).toEqual({ n: 0 });
    await expectInvariants(sys);
  });
});

describe("bad or hostile events fail with a clear reason and move no money", () => {
  const cases: Array<[string, () => Promise<{ id: string; error: RegExp; prepare?: () => Promise<void> }>]> =
    [
      [
        "a refund of a charge Stripe does not know",
        async () => {
          const e = eventEnvelope("refund.created", { ...fixture("refund"), id: stripeId("re") });
          return { id: await post(e), error: /No such charge/ };
        },
      ],
      [
        "charge.refunded for a payment Stripe does not know",
        async () => {
          const e = eventEnvelope(
            "charge.refunded",
            chargeObject({ id: stripeId("py"), payment_intent: stripeId("pi"), amount_refunded: 100 }),
          );
          return { id: await post(e), error: /No such payment_intent/ };
        },
      ],
      [
        "a dispute on a charge Stripe does not know",
        async () => {
          const e = eventEnvelope("charge.dispute.created", { ...fixture("dispute"), id: stripeId("dp") });
          return { id: await post(e), error: /No such charge/ };
        },
      ],
      [
        "a malformed object (no id)",
        async () => {
          const e = eventEnvelope("refund.created", { object: "refund", amount: 100 });
          return { id: await post(e), error: /refund without an id is malformed/ };
        },
      ],
      [
        "a refund larger than what the payment credited",
        async () => {
          const run = await playRun(sys.url, sys.standin, fullRefund, "hostile-over");
          await send(run.events.filter((e) => e.type === "payment_intent.succeeded"));
          await settled();
          // Our record says less was credited than Stripe now refunds (as legacy data could).
          await sys.tdb
            .db("payment_transactions")
            .where({ payment_intent_id: run.piId })
            .update({ amount_received_minor: 400 });
          return {
            id: await post(run.events.find((e) => e.type === "refund.created")!),
            error: /would take payment .* past the 400 it credited/,
          };
        },
      ],
      [
        "a refund in another currency than the payment",
        async () => {
          const run = await playRun(sys.url, sys.standin, fullRefund, "hostile-cur");
          await send(run.events.filter((e) => e.type === "payment_intent.succeeded"));
          await settled();
          await sys.tdb
            .db("payment_transactions")
            .where({ payment_intent_id: run.piId })
            .update({ currency: "eur" });
          return {
            id: await post(run.events.find((e) => e.type === "refund.created")!),
            error: /is in usd, payment .* in eur/,
          };
        },
      ],
    ];

  async function post(e: object): Promise<string> {
    expect((await deliver(sys.url, e as never)).status).toBe(200);
    return (e as { id: string }).id;
  }

  it.each(cases)("%s", async (_name, make) => {
    const forced = async () =>
      Number(
        (
          await sys.tdb
            .db("wallet_ledger_transactions")
            .whereIn("kind", ["refund", "dispute_opened"])
            .count({ n: "*" })
            .first()
        )?.n,
      );
    // Postings other than the setup's own payment credit and the fee the stream books for it.
    const others = async () =>
      Number(
        (
          await sys.tdb
            .db("wallet_ledger_transactions")
            .whereNotIn("kind", ["payment_captured", "processing_fee"])
            .count({ n: "*" })
            .first()
        )?.n,
      );
    const before = await others();
    const forcedBefore = await forced();
    const { id, error } = await make();
    await settled();
    const row = await event(id);
    expect(row).toMatchObject({ status: "failed", attempts: 1 });
    expect(row.last_error).toMatch(error);
    // The row is marked failed just before the alert line is written, so wait for the line.
    await eventually(
      async () => sys.workers[0]!.lines.some((l) => l.event_id === id && l.alert === true && l.level === 50),
      { what: "alert line" },
    );
    expect(await others()).toBe(before);
    expect(await forced()).toBe(forcedBefore);

    // The next good event still works.
    const good = await playRun(sys.url, sys.standin, LIFECYCLES[0]!, `after-${id}`);
    await send(good.events.filter((e) => e.type === "payment_intent.succeeded"));
    await eventually(async () => (await wallet(sys.url, `after-${id}`)).available === 1_000, {
      what: "next credit",
    });
  });
});
