import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postPosting } from "../src/db/stores/ledger.js";
import { platformPayout } from "../src/ledger/movements.js";
import type { Currency } from "../src/money/currencies.js";
import { api, pay, topUp, wallet } from "./support/api.js";
import { control } from "./support/lifecycles.js";
import { adminCall, ledgerTransactionCount, reconcile, wholeTest } from "./support/reconciliation.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { readyUser } from "./support/withdrawals.js";

/**
 * What reconciliation finds beyond a plain day: money Stripe converted (FX), and
 * money Stripe moved on its own that no Coffer flow explains.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
}, 60_000);
afterAll(async () => sys?.stop());

const balanceOf = async (account: string, currency: string) => {
  const r = await sys.tdb
    .db("wallet_ledger")
    .where({ account, currency })
    .sum({ s: "amount_minor" })
    .first<{ s: string | null }>();
  return Number(r?.s ?? 0);
};
const settled = () => eventually(async () => (await openEventCount(sys)) === 0, { what: "events applied" });

describe("FX: a EUR top-up on a USD-settling account", () => {
  it("credits the EUR wallet through fx, fx holds the exposure, and the books reconcile per currency", async () => {
    await readyUser(sys, "fx-user", 2_000); // usd, before conversion starts
    sys.standin.setSettlementCurrencies(["usd"]);
    const created = await topUp(sys.url, "fx-user", 1_000, "eur", "fx-eur-1");
    expect(created.status).toBe(201);
    const piId = created.body.payment_intent_id as string;
    await pay(sys.standin.url, piId);
    await eventually(async () => (await wallet(sys.url, "fx-user", "eur")).available === 1_000, {
      what: "eur credit",
    });
    const c = control(sys.standin);
    const pi = await c.stripe.paymentIntents.retrieve(piId, {
      expand: ["latest_charge.balance_transaction"],
    });
    const charge = pi.latest_charge as {
      balance_transaction: { amount: number; currency: string; fee: number };
    };
    const txn = charge.balance_transaction;
    expect(txn.currency).toBe("usd");
    expect(await balanceOf("fx", "eur")).toBe(-1_000); // owed to the user in eur
    // What Stripe converted it to, booked from the balance transaction by the worker's pass over the stream.
    await eventually(async () => (await balanceOf("fx", "usd")) === txn.amount, {
      what: "the stream's fx booking",
    });
    expect(await balanceOf("stripe", "eur")).toBe(0);

    await c.stripe.refunds.create({ payment_intent: piId, amount: 400 });
    await eventually(async () => (await wallet(sys.url, "fx-user", "eur")).available === 600, {
      what: "eur refund",
    });
    // A dispute on a converted charge: the user side in eur through fx, Stripe's in usd.
    const second = await topUp(sys.url, "fx-user", 500, "eur", "fx-eur-2");
    const paid = await pay(sys.standin.url, second.body.payment_intent_id as string);
    await eventually(async () => (await wallet(sys.url, "fx-user", "eur")).available === 1_100, {
      what: "second eur credit",
    });
    const dp = await c.post(`/charges/${paid.body.latest_charge as string}/dispute`, {});
    await c.post(`/disputes/${dp.id as string}/close`, { outcome: "lost" });
    await eventually(async () => (await wallet(sys.url, "fx-user", "eur")).available === 600, {
      what: "eur dispute debit",
    });
    await settled();

    const run = await reconcile(sys);
    expect(run.discrepancies.data).toEqual([]);
    expect(run.status).toBe("matched");
    const snap = (cur: string) => run.snapshots.find((s: { currency: string }) => s.currency === cur);
    expect(snap("usd")).toMatchObject({ status: "matched", difference_minor: 0 });
    expect(snap("eur")).toMatchObject({
      status: "matched",
      ledger_position_minor: 0,
      fx_exposure_minor: -600,
    });
    expect(snap("usd").fx_exposure_minor).toBe(await balanceOf("fx", "usd"));
    expect(snap("usd").fx_exposure_minor).toBeGreaterThan(0);

    // The platform's Stripe balance holds no euros: a euro withdrawal could only fail at Stripe.
    const count = await ledgerTransactionCount(sys);
    const wd = await sys.tdb.db("withdrawal_requests").count({ n: "*" }).first();
    const refused = await api(sys.url, "POST", "/v1/withdrawals", {
      user: "fx-user",
      body: { amount_minor: 600, currency: "eur" },
      headers: { "idempotency-key": "fx-wd" },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("currency_not_payable");
    expect(await ledgerTransactionCount(sys)).toBe(count);
    expect(await sys.tdb.db("withdrawal_requests").count({ n: "*" }).first()).toEqual(wd);
    expect(await wallet(sys.url, "fx-user", "eur")).toMatchObject({ available: 600, held: 0 });
    await expectInvariants(sys);
    sys.standin.setSettlementCurrencies(undefined);

    const cli = await reconcileCli();
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^page 1: \d+ balance transactions read/m);
    expect(cli.stdout).toMatch(/status: matched/);
  });
});

describe("a balance transaction Stripe made on its own", () => {
  it("is reported with its id, the snapshot is a mismatch with metric and alert, and nothing is posted", async () => {
    await settled();
    const own = sys.standin.addBalanceTransaction({ amount: -250, currency: "usd", type: "adjustment" });
    const count = await ledgerTransactionCount(sys);

    const run = await reconcile(sys);
    expect(run.status).toBe("mismatch");
    expect(run.discrepancies.data).toEqual([
      expect.objectContaining({
        side: "stripe",
        stripe_id: own.id,
        type: "adjustment",
        amount_minor: -250,
        currency: "usd",
        reason: expect.stringMatching(/no Coffer flow accounts for/),
      }),
    ]);
    const usd = run.snapshots.find((s: { currency: string }) => s.currency === "usd");
    expect(usd).toMatchObject({ status: "mismatch", difference_minor: -250, stripe_unmatched: 1 });
    expect(await ledgerTransactionCount(sys)).toBe(count);

    const metrics = await fetch(`${sys.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/coffer_reconciliation_difference_minor\{currency="usd"\} -250/);
    expect(metrics).toMatch(/coffer_reconciliation_unmatched\{side="stripe"\} 1/);
    // The run row is finished before its alert line reaches the worker's stdout.
    const alert = await eventually(
      async () => sys.workers[0]!.lines.find((l) => l.alert === true && l.currency === "usd"),
      { what: "mismatch alert line" },
    );
    expect(alert).toMatchObject({ run_id: run.id, difference_minor: -250, level: 50 });
    const summary = await adminCall(sys, "GET", "/admin/summary");
    expect(summary.body.last_reconciliation).toMatchObject({ run_id: run.id, status: "mismatch" });

    // `npm run reconcile` says the same in the foreground, and exits 1 so a cron job pages someone.
    const cli = await reconcileCli();
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/status: mismatch/);
    expect(cli.stdout).toMatch(/usd.*-250.*mismatch/);
  });
});

describe("a posting that moved stripe with no balance transaction at Stripe", () => {
  it("is reported on the ledger side with its key and what to do, and the difference shows it", async () => {
    await settled();
    const before = await reconcile(sys);
    const usdBefore = before.snapshots.find((s: { currency: string }) => s.currency === "usd");
    // A platform payout Coffer booked that Stripe never made: through the ledger store, as the
    // stream would book one, so it is a real posting with its entries and hash.
    const ghost = platformPayout("po_ghost_never_at_stripe", {
      amountMinor: 300,
      currency: "usd" as Currency,
    });
    const posted = await postPosting(sys.tdb.db, ghost);
    expect(posted.applied).toBe(true);
    const count = await ledgerTransactionCount(sys);

    const run = await reconcile(sys);
    expect(run.status).toBe("mismatch");
    const ledgerSide = run.discrepancies.data.filter((d: { side: string }) => d.side === "ledger");
    expect(ledgerSide).toEqual([
      expect.objectContaining({
        side: "ledger",
        ledger_transaction_id: String(posted.transactionId), // bigint ids travel as strings
        ledger_key: "po_ghost_never_at_stripe:paid_out",
        type: "platform_payout",
        currency: "usd",
        amount_minor: -300,
        reason: expect.stringMatching(
          /booked po_ghost_never_at_stripe:paid_out but Stripe has no balance transaction for it.*look the object up in Stripe.*reversing posting/,
        ),
      }),
    ]);
    const usd = run.snapshots.find((s: { currency: string }) => s.currency === "usd");
    // Stripe holds minus `stripe`: the ghost payout took 300 off the books' side only.
    expect(usd).toMatchObject({
      status: "mismatch",
      ledger_unmatched: 1,
      difference_minor: usdBefore.difference_minor + 300,
    });
    expect(await ledgerTransactionCount(sys)).toBe(count); // the run reports; it books nothing
    const metrics = await fetch(`${sys.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/coffer_reconciliation_unmatched\{side="ledger"\} 1/);
  });
});

/** The foreground command, as an operator runs it, over the test's window. */
function reconcileCli(): Promise<{ code: number | null; stdout: string }> {
  const window = wholeTest();
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", "scripts/reconcile-stripe-daily.ts", "--from", window.from, "--to", window.to],
    {
      cwd: new URL("../", import.meta.url).pathname,
      env: { ...process.env, ...sys.env, LOG_LEVEL: "silent" },
    },
  );
  let stdout = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  // `close`, not `exit`: after `exit` the last lines may still be in the pipe.
  return new Promise((resolve) => proc.on("close", (code) => resolve({ code, stdout })));
}
