import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wallet } from "./support/api.js";
import { deliver } from "./support/events.js";
import { expectInvariants, openEventCount, seedPaidTopUps } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * Stripe delivers at least once, sometimes many times and concurrently. Each
 * case pays one top-up of 1,000 and delivers its events in a different way;
 * the wallet must show exactly 1,000, with one capture posting and one fee.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
});
afterAll(async () => sys?.stop());

const cases: Array<[string, (events: Array<Record<string, unknown>>) => Promise<void>]> = [
  ["once", async ([pi]) => void (await deliver(sys.url, pi!))],
  [
    "5 times in a row",
    async ([pi]) => {
      for (let i = 0; i < 5; i++) expect((await deliver(sys.url, pi!)).status).toBe(200);
    },
  ],
  [
    "8 times concurrently",
    async ([pi]) => {
      const res = await Promise.all(Array.from({ length: 8 }, () => deliver(sys.url, pi!)));
      expect(res.map((r) => r.status)).toEqual(Array(8).fill(200));
    },
  ],
  [
    "together with charge.succeeded, concurrently, 3 times each",
    async (events) => {
      const res = await Promise.all([...events, ...events, ...events].map((e) => deliver(sys.url, e)));
      expect(res.every((r) => r.status === 200)).toBe(true);
    },
  ],
  [
    "charge.succeeded alone (the sibling event converges on the same key)",
    async (events) => {
      const charge = events.find((e) => e.type === "charge.succeeded")!;
      expect((await deliver(sys.url, charge)).status).toBe(200);
    },
  ],
];

describe("payment_intent.succeeded credits exactly amount_received, once", () => {
  it.each(cases.map(([name], i) => [name, i] as const))("delivered %s", async (_name, i) => {
    const user = `dup-${i}`;
    const [paid] = await seedPaidTopUps(sys, [{ user, amountMinor: 1_000 }]);
    const ordered = [...paid!.events].sort((a) => (a.type === "payment_intent.succeeded" ? -1 : 1));
    await cases[i]![1](ordered);

    await eventually(async () => (await openEventCount(sys)) === 0, { what: "events processed" });
    expect(await wallet(sys.url, user)).toEqual({ available: 1_000, pending: 0, held: 0 });
    const postings = await sys.tdb
      .db("wallet_ledger_transactions")
      .where({ source_id: paid!.piId })
      .select("kind");
    expect(postings.map((p) => p.kind)).toEqual(["payment_captured"]);
    const rows = await sys.tdb
      .db("stripe_webhook_events")
      .whereIn(
        "id",
        paid!.events.map((e) => e.id as string),
      )
      .select("status");
    expect(rows.every((r) => r.status === "processed")).toBe(true);
    await expectInvariants(sys);
  });
});
