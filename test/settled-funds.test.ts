/* eslint-disable @typescript-eslint/no-explicit-any -- test client: bodies are asserted field by field */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, pay, topUp, wallet } from "./support/api.js";
import { topUpMore, walletRead } from "./support/settling.js";
import { deliver } from "./support/events.js";
import { control } from "./support/lifecycles.js";
import { CONNECT_WEBHOOK_SECRET, eventually, startSystem, type System } from "./support/system.js";
import { WEBHOOK_SECRET } from "./support/tokens.js";
import {
  approve,
  readyUser,
  requestWithdrawal,
  settledAndBalanced,
  settleFunds,
  settling,
  streamPass,
  waitForStatus,
} from "./support/withdrawals.js";

/**
 * Settled funds (SPEC → Ledger → Settling): a withdrawal draws only on what Stripe has made
 * available. The stand-in books each charge's line with `available_on` two days out; its settle
 * control makes it available now, and Coffer learns either from the balance-transaction stream.
 */
let sys: System;
beforeAll(async () => {
  // The worker never follows the stream on its own here: each test decides when Coffer reads
  // Stripe's lines (streamPass), so "not seen yet" is a state a test can hold.
  sys = await startSystem({ workers: 1, env: { BALANCE_STREAM_INTERVAL_MS: "0" } });
});
afterAll(async () => sys?.stop());

const TWO_DAYS_S = 2 * 86_400;

describe("a top-up withdrawn at once", () => {
  it("is refused with funds_not_settled and settles_at, holds nothing, and succeeds once settled, paid once", async () => {
    const { accountId } = await readyUser(sys, "fresh", 5_000, { settle: false });
    expect(await settling(sys, "fresh")).toBe(5_000);
    const unsettled = await walletRead(sys, "fresh");

    const key = "wd-fresh-1";
    const refused = await requestWithdrawal(sys, "fresh", 1_000, key);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("funds_not_settled");
    // The stream has not seen the charge's line: when it settles is not known yet.
    expect(refused.body.error.settles_at).toBeNull();
    expect(refused.body.error.message).toMatch(/not yet reported/);
    expect(await wallet(sys.url, "fresh")).toMatchObject({ available: 5_000, held: 0 });

    // Once the stream has seen the charge's line, the refusal says when: its available_on.
    await streamPass(sys);
    const dated = await requestWithdrawal(sys, "fresh", 1_000, key);
    expect(dated.status).toBe(409);
    const at = Date.parse(dated.body.error.settles_at as string) / 1000;
    const now = Date.now() / 1000;
    expect(at).toBeGreaterThan(now + TWO_DAYS_S - 600);
    expect(at).toBeLessThan(now + TWO_DAYS_S + 60);
    expect(dated.body.error.message).toContain(dated.body.error.settles_at);

    await settleFunds(sys);
    expect(await settling(sys, "fresh")).toBe(0);
    // Same balances, less settling: the wallet's ETag must change with it.
    const settled = await walletRead(sys, "fresh");
    expect(settled.balance.available_minor).toBe(unsettled.balance.available_minor);
    expect(settled.etag).not.toBe(unsettled.etag);
    const accepted = await requestWithdrawal(sys, "fresh", 1_000, key);
    expect(accepted.status).toBe(201);
    await approve(sys, accepted.body.id as string);
    // Transferred (its payout to the bank is Stripe's to finish): exactly one Transfer.
    await waitForStatus(sys, "fresh", accepted.body.id as string, "processing");
    const transfers = await control(sys.standin).stripe.transfers.list({ destination: accountId });
    expect(transfers.data).toHaveLength(1);
    await settledAndBalanced(sys);
  });
});

describe("forced debits", () => {
  it("a refund against a wallet of settling funds only reduces settling_minor first", async () => {
    await readyUser(sys, "refunded", 1_000, { settle: false });
    await streamPass(sys);
    expect(await settling(sys, "refunded")).toBe(1_000);
    const pi = (await sys.tdb.db("payment_transactions").where({ user_id: "refunded" }).first())
      .payment_intent_id as string;
    await control(sys.standin).stripe.refunds.create({ payment_intent: pi, amount: 400 });
    await eventually(async () => (await wallet(sys.url, "refunded")).available === 600, { what: "refund" });
    // All that is left is still pending at Stripe: settling follows available down.
    expect(await settling(sys, "refunded")).toBe(600);
    expect((await requestWithdrawal(sys, "refunded", 500)).body.error.code).toBe("funds_not_settled");
  });

  it("in a mixed wallet a refund of the settling payment comes off settled funds, as at Stripe; a dispute on a settled one leaves settling alone", async () => {
    await readyUser(sys, "debits", 1_000);
    const settledPi = await topUpMore(sys, "debits", 2_000, "debits-2");
    await settleFunds(sys);
    const settlingPi = await topUpMore(sys, "debits", 500, "debits-3");
    await streamPass(sys);
    expect(await settling(sys, "debits")).toBe(500);

    // Stripe takes the refund from its available balance while the 500 charge stays pending in
    // full: this wallet's money available at Stripe is 3,000 − 300, and so is what it may withdraw.
    // (Charging the refund to its payment would say settling 200, withdrawable 3,000: early.)
    const ctl = control(sys.standin);
    await ctl.stripe.refunds.create({ payment_intent: settlingPi, amount: 300 });
    await eventually(async () => (await wallet(sys.url, "debits")).available === 3_200, { what: "refund" });
    expect(await settling(sys, "debits")).toBe(500);

    const pi = await ctl.stripe.paymentIntents.retrieve(settledPi);
    await ctl.post(`/charges/${pi.latest_charge as string}/dispute`, {});
    await eventually(async () => (await wallet(sys.url, "debits")).available === 1_200, { what: "dispute" });
    expect(await settling(sys, "debits")).toBe(500);

    // Withdrawable is 1,200 − 500: one more minor unit is refused.
    const over = await requestWithdrawal(sys, "debits", 701);
    expect(over.body.error).toMatchObject({ code: "funds_not_settled", withdrawable_minor: 700 });
    expect((await requestWithdrawal(sys, "debits", 700)).status).toBe(201);
  });
});

describe("events in any order", () => {
  it("the charge's line read before its credit is applied gives the same wallet", async () => {
    await readyUser(sys, "order", 1_000);
    // The payment's events wait while the stream reads its line: the line comes first.
    sys.standin.setWebhook(undefined);
    const created = await topUp(sys.url, "order", 700, "usd", "order-2");
    const pi = created.body.payment_intent_id as string;
    await pay(sys.standin.url, pi);
    await streamPass(sys);
    expect(await wallet(sys.url, "order")).toMatchObject({ available: 1_000 });
    expect(await settling(sys, "order")).toBe(0);

    sys.standin.setWebhook(`${sys.url}/webhooks/stripe`, WEBHOOK_SECRET, CONNECT_WEBHOOK_SECRET);
    const events = sys.standin
      .events()
      .filter((e) => e.type === "payment_intent.succeeded" && (e.data.object as { id: string }).id === pi);
    expect(events).toHaveLength(1);
    for (const e of events) await deliver(sys.url, e as never);
    await eventually(async () => (await wallet(sys.url, "order")).available === 1_700, { what: "credit" });
    expect(await settling(sys, "order")).toBe(700);
    const refused = await requestWithdrawal(sys, "order", 1_001);
    expect(refused.body.error.code).toBe("funds_not_settled");
    expect(refused.body.error.settles_at).not.toBeNull(); // the line was already seen
    expect(refused.body.error.withdrawable_minor).toBe(1_000);
    await settledAndBalanced(sys);
  });
});

describe("a converted charge", () => {
  it("settles by its line, found by the claim key although the line is in the settlement currency", async () => {
    await readyUser(sys, "fx-user", 1_000);
    sys.standin.setSettlementCurrencies(["usd"]);
    try {
      const created = await topUp(sys.url, "fx-user", 800, "eur", "fx-eur-1");
      await pay(sys.standin.url, created.body.payment_intent_id as string);
      await eventually(async () => (await wallet(sys.url, "fx-user", "eur")).available === 800, {
        what: "eur credit",
      });
    } finally {
      sys.standin.setSettlementCurrencies(undefined);
    }
    await streamPass(sys);
    expect(await settling(sys, "fx-user", "eur")).toBe(800);
    // Its only line is in usd: a match by currency would leave the eur credit settling forever.
    await settleFunds(sys);
    expect(await settling(sys, "fx-user", "eur")).toBe(0);
    expect(await settling(sys, "fx-user", "usd")).toBe(0);
  });
});

describe("a concurrent race", () => {
  it("over settled and settling funds: exactly as many succeed as the settled funds cover", async () => {
    await readyUser(sys, "racer", 3_000);
    await topUpMore(sys, "racer", 5_000, "racer-2");
    await streamPass(sys);
    expect(await settling(sys, "racer")).toBe(5_000);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => requestWithdrawal(sys, "racer", 500, `race-${i}`)),
    );
    const codes = results.map((r) => (r.status === 201 ? "ok" : (r.body.error.code as string)));
    expect(codes.filter((c) => c === "ok")).toHaveLength(6);
    expect(new Set(codes.filter((c) => c !== "ok"))).toEqual(new Set(["funds_not_settled"]));
    const after = await walletRead(sys, "racer");
    expect(after.balance).toMatchObject({ available_minor: 5_000, held_minor: 3_000, settling_minor: 5_000 });
    expect(after.balance.available_minor - after.balance.settling_minor).toBe(0);
  });
});

describe("the admin user view", () => {
  it("shows settling_minor", async () => {
    const r = await api(sys.url, "GET", "/admin/users/racer/wallet", { user: "ops", role: "admin" });
    expect(r.status).toBe(200);
    expect((r.body.balances as any[]).find((b) => b.currency === "usd")).toMatchObject({
      settling_minor: 5_000,
    });
  });
});

describe("the settling metric", () => {
  it("is the sum over wallets of what each shows as settling, per currency", async () => {
    const users = (await sys.tdb.db("users").select("id")).map((u: { id: string }) => u.id);
    let usd = 0;
    for (const u of users) usd += await settling(sys, u);
    expect(usd).toBeGreaterThan(0);
    const res = await fetch(`${sys.url}/metrics`);
    const line = (await res.text())
      .split("\n")
      .find((l) => l.startsWith('coffer_settling_minor{currency="usd"}'));
    expect(Number(line?.split(" ")[1])).toBe(usd);
  });
});

describe("WITHDRAW_UNSETTLED=true", () => {
  let old: System;
  beforeAll(async () => {
    old = await startSystem({ workers: 1, env: { WITHDRAW_UNSETTLED: "true" } });
  });
  afterAll(async () => old?.stop());

  it("lets a top-up be withdrawn at once, as before, and still shows what is settling", async () => {
    await readyUser(old, "risky", 5_000, { settle: false });
    const accepted = await requestWithdrawal(old, "risky", 5_000);
    expect(accepted.status).toBe(201);
    expect(await wallet(old.url, "risky")).toMatchObject({ available: 0, held: 5_000 });
    expect(await settling(old, "risky")).toBe(0); // clamped to what is available
    const over = await requestWithdrawal(old, "risky", 500);
    expect(over.body.error.code).toBe("insufficient_funds");
  });
});
