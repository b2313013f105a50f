import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, pay, topUp, wallet } from "./support/api.js";
import { eventually, startSystem, type System } from "./support/system.js";

/** What an admin sees: the summary's numbers, and a user's wallet and ledger. */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
});
afterAll(async () => sys?.stop());

const admin = (path: string) => api(sys.url, "GET", path, { user: "ops", role: "admin" });

describe("admin views", () => {
  it("summarises the books per currency and shows one user's wallet and ledger", async () => {
    const created = await topUp(sys.url, "adm-user", 2_000);
    await pay(sys.standin.url, created.body.payment_intent_id as string);
    await eventually(async () => (await wallet(sys.url, "adm-user")).available === 2_000, { what: "credit" });
    await eventually(async () => (await admin("/admin/events?status=processed")).body.data.length === 2, {
      what: "both events",
    });

    const fee = Math.round((2_000 * 290) / 10_000) + 30;
    // Stripe's fee arrives with the worker's next pass over the balance-transaction stream.
    const summary = await eventually(
      async () => {
        const s = await admin("/admin/summary");
        return s.body.totals[0]?.stripe_fees_minor === fee ? s : undefined;
      },
      { what: "the fee in the summary" },
    );
    expect(summary!.body).toEqual({
      totals: [
        {
          currency: "usd",
          users_available_minor: 2_000,
          users_held_minor: 0,
          users_pending_minor: 0,
          negative_wallets: 0,
          stripe_position_minor: 2_000 - fee, // what Stripe holds for the platform: the payment less its fee
          stripe_fees_minor: fee,
          fee_revenue_minor: 0,
          dispute_reserve_minor: 0,
        },
      ],
      pending_withdrawals: 0,
      failed_events: 0,
      last_reconciliation: null,
    });
    expect((await admin("/admin/users/adm-user/wallet")).body).toEqual({
      user_id: "adm-user",
      // The card funds are still pending at Stripe: all of it is settling (SPEC → Ledger → Settling).
      balances: [
        { currency: "usd", available_minor: 2_000, pending_minor: 0, held_minor: 0, settling_minor: 2_000 },
      ],
    });
    const ledger = await admin("/admin/users/adm-user/ledger");
    expect(
      ledger.body.data.map((e: { kind: string; amount_minor: number }) => [e.kind, e.amount_minor]),
    ).toEqual([["payment_captured", 2_000]]);
    for (const path of [
      "/admin/summary",
      "/admin/users/adm-user/wallet",
      "/admin/users/adm-user/ledger",
      "/admin/events",
    ]) {
      expect((await api(sys.url, "GET", path, { user: "adm-user" })).status).toBe(403);
    }
  });
});
