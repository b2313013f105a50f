import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachPaymentIntent, insertCreating } from "../src/db/stores/top-ups.js";
import { ensureUser } from "../src/db/stores/users.js";
import { newId } from "../src/ids.js";
import { HARNESS_API_KEY } from "../src/standin/index.js";
import { pay } from "./support/api.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { stripeFor } from "./support/stripe-client.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * Stripe as it really is, at volume: 2,000 top-ups credited by two workers while the
 * stand-in enforces test mode's limits (25 requests a second per account, 25 on any one
 * endpoint). Credits come from the signed snapshots and fees from the balance stream,
 * so Coffer reads Stripe at most 0.1 times per credit and never spends an attempt on a 429.
 */
const TOP_UPS = 2_000;
const WALLETS = 100;
const AMOUNT = 1_000;

let sys: System;
let stripe: Stripe;
beforeAll(async () => {
  sys = await startSystem({
    workers: 2,
    standin: { rateLimits: "test" },
    env: {
      STRIPE_MAX_RPS: "20",
      // Nearer production's minute than the suite's half second: each pass costs a page per 100 lines.
      BALANCE_STREAM_INTERVAL_MS: "5000",
    },
  });
  stripe = stripeFor(sys.standin);
});
afterAll(async () => sys?.stop());

/** A top-up as the route makes it, with the PaymentIntent made through the harness so seeding spends no budget. */
async function seedTopUp(n: number): Promise<string> {
  const user = `limits-${n % WALLETS}`;
  const row = await insertCreating(sys.tdb.db, {
    id: newId("top"),
    userId: user,
    idempotencyKey: `seed-${n}`,
    amountMinor: AMOUNT,
    currency: "usd",
    livemode: false,
  });
  const pi = await stripe.paymentIntents.create({
    amount: AMOUNT,
    currency: "usd",
    automatic_payment_methods: { enabled: true },
    metadata: { user_id: user, purpose: "wallet_top_up", top_up_id: row.id },
  });
  await attachPaymentIntent(sys.tdb.db, row.id, {
    id: pi.id,
    status: pi.status,
    clientSecret: pi.client_secret,
  });
  return pi.id;
}

describe("crediting under Stripe's rate limits", () => {
  it(
    `credits ${TOP_UPS} top-ups exactly, with ≤ 0.1 Stripe reads each and no attempt spent on a 429`,
    { timeout: 480_000 },
    async () => {
      for (let i = 0; i < WALLETS; i++) await ensureUser(sys.tdb.db, `limits-${i}`);
      const requestsBefore = sys.standin.requests().length;
      const pis: string[] = [];
      for (let i = 0; i < TOP_UPS; i += 50) {
        pis.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => seedTopUp(i + j)))));
      }
      // The customers pay; the stand-in posts the signed events to Coffer as Stripe would.
      for (let i = 0; i < pis.length; i += 50)
        await Promise.all(pis.slice(i, i + 50).map((pi) => pay(sys.standin.url, pi)));

      await eventually(
        async () => {
          const r = await sys.tdb
            .db("payment_transactions")
            .where({ purpose: "wallet_top_up", status: "succeeded" })
            .whereLike("user_id", "limits-%")
            .count({ n: "*" })
            .first();
          return Number(r?.n) === TOP_UPS && (await openEventCount(sys)) === 0;
        },
        { timeoutMs: 240_000, intervalMs: 500, what: "every top-up credited" },
      );

      const events = await sys.tdb.db("stripe_webhook_events").select("status", "attempts", "last_error");
      expect(events.filter((e) => e.status === "failed")).toEqual([]);
      // A 429 or an exhausted budget delays a job; it never counts as an attempt.
      expect(events.filter((e) => e.attempts > 1)).toEqual([]);

      const balances = await sys.tdb
        .db("user_wallet_balances")
        .whereLike("user_id", "limits-%")
        .select("user_id", "available_minor");
      expect(balances).toHaveLength(WALLETS);
      for (const b of balances) expect(Number(b.available_minor)).toBe((TOP_UPS / WALLETS) * AMOUNT);

      const coffer = sys.standin
        .requests()
        .slice(requestsBefore)
        .filter((r) => r.key !== HARNESS_API_KEY);
      const reads = coffer.filter((r) => r.method === "GET");
      const byPath = new Map<string, number>();
      for (const r of coffer) {
        const what = `${r.method} ${r.path.replace(/\/(pi|ch|py|txn)_\w+/, "/:id")}`;
        byPath.set(what, (byPath.get(what) ?? 0) + 1);
      }
      console.info(`Coffer's Stripe calls for ${TOP_UPS} credits:`, Object.fromEntries(byPath));
      expect(reads.length / TOP_UPS).toBeLessThanOrEqual(0.1);
      // Stripe's fee on each charge reaches the books through the stream, 100 to a page.
      await eventually(
        async () =>
          Number(
            (
              await sys.tdb
                .db("wallet_ledger_transactions")
                .where({ kind: "processing_fee" })
                .count({ n: "*" })
                .first()
            )?.n,
          ) === TOP_UPS,
        // Passes come every 5 s; on a loaded machine one pass over a backlog of pages can take a while.
        { timeoutMs: 180_000, intervalMs: 1_000, what: "every fee booked by the stream" },
      );
      await expectInvariants(sys);
    },
  );
});
