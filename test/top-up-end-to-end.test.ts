import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInvariants } from "../src/db/stores/ledger-checks.js";
import { api, pay, topUp, wallet } from "./support/api.js";
import { eventually, startSystem, type System } from "./support/system.js";

let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
});
afterAll(async () => {
  await sys?.stop();
});

describe("a top-up, end to end through the stand-in", () => {
  it("credits amount_received once, books Stripe's fee, and shows the top-up", async () => {
    const created = await topUp(sys.url, "alice", 2_000, "usd", "alice-1");
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      amount_minor: 2_000,
      currency: "usd",
      status: "requires_payment_method",
    });
    expect(created.body.payment_intent_id).toMatch(/^pi_/);
    expect(created.body.client_secret).toMatch(/_secret_/);

    const paid = await pay(sys.standin.url, created.body.payment_intent_id);
    expect(paid.status).toBe(200);
    await eventually(async () => (await wallet(sys.url, "alice")).available === 2_000, { what: "credit" });

    const db = sys.tdb.db;
    const fee = Math.round((2_000 * 290) / 10_000) + 30;
    // The fee is not fetched per payment: the worker's pass over the balance-transaction stream books it.
    await eventually(
      async () =>
        Number(
          (await db("wallet_ledger").where({ account: "stripe_fees" }).sum({ s: "amount_minor" }).first())?.s,
        ) === -fee,
      { what: "the stream's fee posting" },
    );
    const stripeSide = await db("wallet_ledger")
      .where({ account: "stripe", currency: "usd" })
      .sum({ s: "amount_minor" })
      .first();
    expect(Number(stripeSide?.s)).toBe(-2_000 + fee);

    const shown = await api(sys.url, "GET", `/v1/wallet/top-ups/${created.body.id}`, { user: "alice" });
    expect(shown.body).toMatchObject({
      status: "succeeded",
      amount_received_minor: 2_000,
      refunded_minor: 0,
    });
    expect((await api(sys.url, "GET", `/v1/wallet/top-ups/${created.body.id}`, { user: "bob" })).status).toBe(
      404,
    );

    const ledger = await api(sys.url, "GET", "/v1/wallet/ledger", { user: "alice" });
    expect(ledger.body.data).toEqual([
      expect.objectContaining({
        kind: "payment_captured",
        amount_minor: 2_000,
        account: "available",
        source_id: created.body.payment_intent_id,
      }),
    ]);

    // Stripe delivered both charge.succeeded and payment_intent.succeeded; each event is processed, one credit.
    await sys.standin.flushWebhooks();
    await eventually(async () => {
      const open = await db("stripe_webhook_events")
        .whereNotIn("status", ["processed", "ignored"])
        .count({ n: "*" })
        .first();
      return Number(open?.n) === 0;
    });
    const report = await checkInvariants(db);
    expect(report.violations).toEqual([]);
    expect(await wallet(sys.url, "alice")).toEqual({ available: 2_000, pending: 0, held: 0 });
  });
});
