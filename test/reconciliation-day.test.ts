import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { control, LIFECYCLES, playRun } from "./support/lifecycles.js";
import { adminCall, ledgerTransactionCount, reconcile } from "./support/reconciliation.js";
import { expectInvariants } from "./support/seed.js";
import { startSystem, type System } from "./support/system.js";
import {
  approve,
  readyUser,
  requestWithdrawal,
  settledAndBalanced,
  waitForStatus,
} from "./support/withdrawals.js";

/**
 * A day of mixed activity, played for real at the stand-in and delivered as
 * signed webhooks, then reconciled through the admin API: every balance
 * transaction must be matched to its posting and back, in every currency.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
}, 60_000);
afterAll(async () => sys?.stop());

describe("reconciliation of a day of activity", () => {
  it("matches line by line with 0 difference, and a second run changes nothing", async () => {
    await Promise.all(LIFECYCLES.map((lc, i) => playRun(sys.url, sys.standin, lc, `day-${i}`)));
    // A withdrawal paid out to a connected account: the platform's Transfer line.
    await readyUser(sys, "day-wd", 5_000);
    const wd = await requestWithdrawal(sys, "day-wd", 2_000);
    expect(wd.status).toBe(201);
    expect((await approve(sys, wd.body.id as string)).status).toBe(200);
    await waitForStatus(sys, "day-wd", wd.body.id as string, "processing");
    // A payout of the platform's own balance to its bank: booked by the stream alone.
    const c = control(sys.standin);
    const payout = await c.stripe.payouts.create({ amount: 700, currency: "usd" });
    await settledAndBalanced(sys);

    const run = await reconcile(sys);
    expect(run.discrepancies.data).toEqual([]);
    expect(run.status).toBe("matched");
    expect(run.stripe_unmatched).toBe(0);
    expect(run.ledger_unmatched).toBe(0);
    expect(run.stripe_matched).toBeGreaterThan(15);
    const usd = run.snapshots.find((s: { currency: string }) => s.currency === "usd");
    expect(usd).toMatchObject({ status: "matched", difference_minor: 0 });
    const balance = await c.stripe.balance.retrieve();
    const held = [...balance.available, ...balance.pending]
      .filter((b) => b.currency === "usd")
      .reduce((s, b) => s + b.amount, 0);
    expect(usd.ledger_position_minor).toBe(held);

    const booked = await sys.tdb
      .db("wallet_ledger_transactions")
      .where({ idempotency_key: `${payout.id}:paid_out` });
    expect(booked).toHaveLength(1);

    const before = await ledgerTransactionCount(sys);
    const again = await reconcile(sys);
    expect(again.status).toBe("matched");
    expect(again.discrepancies.data).toEqual([]);
    expect(await ledgerTransactionCount(sys)).toBe(before);
    await expectInvariants(sys);

    const summary = await adminCall(sys, "GET", "/admin/summary");
    expect(summary.body.last_reconciliation).toMatchObject({ run_id: again.id, status: "matched" });
    const snapshots = await adminCall(sys, "GET", "/admin/reconciliation/snapshots?currency=usd&limit=1");
    expect(snapshots.body).toMatchObject({ has_more: true, data: [{ run_id: again.id, currency: "usd" }] });
    const metrics = await fetch(`${sys.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/coffer_reconciliation_difference_minor\{currency="usd"\} 0/);
    expect(metrics).toMatch(/coffer_reconciliation_unmatched\{side="stripe"\} 0/);
  });

  it("records the cut-over once per currency, audited; a repeat is 409 and moves nothing", async () => {
    const first = await adminCall(sys, "POST", "/admin/reconciliation/opening", {
      currency: "gbp",
      amount_minor: 12_345,
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ currency: "gbp", amount_minor: 12_345 });
    const count = await ledgerTransactionCount(sys);
    for (const amount of [12_345, 1]) {
      const again = await adminCall(sys, "POST", "/admin/reconciliation/opening", {
        currency: "gbp",
        amount_minor: amount,
      });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe("opening_already_recorded");
    }
    expect(await ledgerTransactionCount(sys)).toBe(count);
    const audit = await adminCall(sys, "GET", "/admin/audit-log?limit=100");
    expect(
      audit.body.data.filter((a: { action: string }) => a.action === "reconciliation.opening"),
    ).toHaveLength(1);
    // The opening is not a Stripe line: the run reports what is left in opening_balance instead.
    const run = await reconcile(sys);
    const gbp = run.snapshots.find((s: { currency: string }) => s.currency === "gbp");
    expect(gbp).toMatchObject({ opening_balance_minor: 12_345, ledger_position_minor: 12_345 });
    expect(gbp.status).toBe("mismatch"); // Stripe's stand-in holds no gbp: the books say 12,345
  });
});

describe("bad input to the reconciliation routes", () => {
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const runCases: Array<[string, unknown, string]> = [
    ["reversed window", { from: iso(now), to: iso(now - 1_000) }, "reconciliation_window_invalid"],
    ["empty window", { from: iso(now), to: iso(now) }, "reconciliation_window_invalid"],
    ["32 days", { from: iso(now - 32 * 86_400_000), to: iso(now) }, "reconciliation_window_invalid"],
    ["not a timestamp", { from: "yesterday" }, "invalid_field"],
    ["a number", { to: 1_764_547_200 }, "invalid_field"],
    ["date without zone", { from: "2026-11-30T00:00:00" }, "invalid_field"],
    ["unknown field", { from: iso(now - 1_000), status: "matched" }, "unknown_field"],
    ["NUL byte", { from: "2026-11-30T00:00:00Z\u0000" }, "invalid_text"], // refused before any schema: Postgres cannot store it,
    ["31 February", { from: "2026-02-31T00:00:00Z" }, "invalid_field"],
    ["hour 24", { to: "2026-11-30T24:00:00Z" }, "invalid_field"],
  ];
  it.each(runCases)("run: %s → 4xx with a code, no run stored", async (_name, body, code) => {
    const r = await adminCall(sys, "POST", "/admin/reconciliation/runs", body);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.error.code).toBe(code);
  });

  const openingCases: Array<[string, unknown, string]> = [
    ["zero", { currency: "eur", amount_minor: 0 }, "amount_not_positive"],
    ["negative", { currency: "eur", amount_minor: -5 }, "amount_not_positive"],
    ["float", { currency: "eur", amount_minor: 1.5 }, "amount_not_integer"],
    ["string", { currency: "eur", amount_minor: "10" }, "amount_invalid_type"],
    ["huge", { currency: "eur", amount_minor: 2 ** 53 }, "amount_too_large"],
    ["unknown currency", { currency: "xyz", amount_minor: 10 }, "currency_unknown"],
    ["uppercase currency", { currency: "EUR", amount_minor: 10 }, "currency_invalid"],
    ["unknown field", { currency: "eur", amount_minor: 10, account: "stripe" }, "unknown_field"],
  ];
  it.each(openingCases)("opening: %s → 4xx with a code, nothing posted", async (_name, body, code) => {
    const count = await ledgerTransactionCount(sys);
    const r = await adminCall(sys, "POST", "/admin/reconciliation/opening", body);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe(code);
    expect(await ledgerTransactionCount(sys)).toBe(count);
  });

  it("refuses non-admins on every route, and unknown runs are 404", async () => {
    const runsBefore = await sys.tdb.db("reconciliation_runs").count({ n: "*" }).first();
    for (const [method, path, body] of [
      ["POST", "/admin/reconciliation/runs", {}],
      ["POST", "/admin/reconciliation/opening", { currency: "eur", amount_minor: 10 }],
      ["GET", "/admin/reconciliation/snapshots", undefined],
      ["GET", "/admin/reconciliation/runs/rec_x", undefined],
    ] as const) {
      const r = await api(sys.url, method, path, { user: "not-admin", ...(body && { body }) });
      expect(r.status).toBe(403);
    }
    const runsAfter = await sys.tdb.db("reconciliation_runs").count({ n: "*" }).first();
    expect(Number(runsAfter?.n)).toBe(Number(runsBefore?.n));
    expect((await adminCall(sys, "GET", "/admin/reconciliation/runs/rec_nope")).status).toBe(404);
    expect((await adminCall(sys, "GET", "/admin/reconciliation/runs/rec_nope%00")).status).toBeLessThan(500);
  });
});
