import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startStandin } from "../src/standin/index.js";
import { standinControl, stripeFor } from "./support/stripe-client.js";
import type { Standin, StripeEvent } from "../src/standin/index.js";

/** What reconciliation reads from the stand-in: balance transactions, the balance, events. */

const started: Standin[] = [];
async function fresh(opts: Parameters<typeof startStandin>[0] = {}) {
  const s = await startStandin(opts);
  started.push(s);
  const control = <T = Record<string, unknown>>(path: string, body?: unknown, method = "POST") =>
    standinControl<T>(s.url, path, body, method);
  return { s, stripe: stripeFor(s), control };
}
afterAll(() => Promise.all(started.map((s) => s.close())));

async function paid(stripe: Stripe, amount: number, currency = "usd") {
  const pi = await stripe.paymentIntents.create({
    amount,
    currency,
    payment_method: "pm_card_visa",
    confirm: true,
  });
  const charge = await stripe.charges.retrieve(pi.latest_charge as string, {
    expand: ["balance_transaction"],
  });
  return { pi: pi.id, charge: charge.id, txn: charge.balance_transaction as Stripe.BalanceTransaction };
}

const opts = (account?: string) => (account ? { stripeAccount: account } : {});

/** Every balance transaction of an account, newest first, through the SDK's own paging. */
async function allTxns(stripe: Stripe, params: Stripe.BalanceTransactionListParams = {}, account?: string) {
  const out: Stripe.BalanceTransaction[] = [];
  for await (const t of stripe.balanceTransactions.list({ limit: 100, ...params }, opts(account)))
    out.push(t);
  return out;
}

/**
 * The account's balance in one currency, checked against its balance transactions: Stripe's
 * balance is their net, pending until available and available after.
 */
async function balance(stripe: Stripe, currency: string, account?: string) {
  const b = await stripe.balance.retrieve({}, opts(account));
  const row = (rows: Stripe.Balance.Available[]) => rows.find((r) => r.currency === currency)?.amount ?? 0;
  const txns = (await allTxns(stripe, {}, account)).filter((t) => t.currency === currency);
  const sum = (status: string) => txns.filter((t) => t.status === status).reduce((n, t) => n + t.net, 0);
  const found = { available: row(b.available), pending: row(b.pending) };
  expect(found).toEqual({ available: sum("available"), pending: sum("pending") });
  return found;
}

describe("FX settlement", () => {
  let fx: Awaited<ReturnType<typeof fresh>>;
  beforeAll(async () => {
    fx = await fresh({ settlementCurrencies: ["usd"] });
  });

  it("books a eur charge on a usd-settling account in usd, with the rate and the fee on the converted amount", async () => {
    const { charge, txn } = await paid(fx.stripe, 1000, "eur");
    expect((await fx.stripe.charges.retrieve(charge)).currency).toBe("eur");
    // 10.00 EUR × 1.08 = 10.80 USD; fee round(1080 × 2.9 %) + 30 = 31 + 30
    expect(txn).toMatchObject({ currency: "usd", amount: 1080, exchange_rate: 1.08, fee: 61, net: 1019 });
    expect(txn.fee_details).toEqual([
      {
        amount: 61,
        application: null,
        currency: "usd",
        description: "Stripe processing fees",
        type: "stripe_fee",
      },
    ]);
    // jpy has no decimals: 1000 JPY × 0.0067 = 6.70 USD
    expect((await paid(fx.stripe, 1000, "jpy")).txn).toMatchObject({ currency: "usd", amount: 670, fee: 49 });
    expect((await paid(fx.stripe, 1000, "usd")).txn).toMatchObject({
      currency: "usd",
      amount: 1000,
      exchange_rate: null,
    });
    const b = await fx.stripe.balance.retrieve();
    expect(b.pending.map((r) => r.currency)).toEqual(["usd"]);
  });

  it("refunds, refund failures and disputes on a converted charge convert at the charge's rate", async () => {
    const { charge } = await paid(fx.stripe, 1000, "eur");
    const refund = await fx.stripe.refunds.create({
      charge,
      amount: 500,
      metadata: { standin_status: "pending" },
    });
    const refundTxn = await fx.stripe.balanceTransactions.retrieve(refund.balance_transaction as string);
    expect(refundTxn).toMatchObject({
      type: "refund",
      currency: "usd",
      amount: -540,
      exchange_rate: 1.08,
      fee: 0,
    });
    expect((await fx.control(`/refunds/${refund.id}/fail`)).status).toBe(200);
    const failed = await fx.stripe.refunds.retrieve(refund.id);
    const back = await fx.stripe.balanceTransactions.retrieve(failed.failure_balance_transaction as string);
    expect(back).toMatchObject({ type: "refund_failure", reporting_category: "refund_failure", amount: 540 });
    expect(back).toMatchObject({ currency: "usd", exchange_rate: 1.08, source: refund.id });

    // The rate sticks to the charge: a new settlement currency changes only new charges.
    expect((await fx.control("/config", { settlement_currencies: ["usd", "EUR"] })).body).toMatchObject({
      settlement_currencies: ["usd", "eur"],
    });
    expect((await paid(fx.stripe, 1000, "eur")).txn).toMatchObject({
      currency: "eur",
      amount: 1000,
      exchange_rate: null,
    });
    const dispute = (await fx.control<Stripe.Dispute>(`/charges/${charge}/dispute`, {})).body;
    expect(dispute).toMatchObject({ amount: 1000, currency: "eur" });
    expect(dispute.balance_transactions[0]).toMatchObject({
      type: "adjustment",
      reporting_category: "dispute",
      currency: "usd",
      amount: -1080,
      exchange_rate: 1.08,
      fee: 1500,
      net: -2580,
      source: dispute.id,
    });
    expect(dispute.balance_transactions[0]?.fee_details[0]).toMatchObject({ currency: "usd", amount: 1500 });
    const won = (await fx.control<Stripe.Dispute>(`/disputes/${dispute.id}/close`, { outcome: "won" })).body;
    expect(won.balance_transactions[1]).toMatchObject({
      reporting_category: "dispute_reversal",
      currency: "usd",
      amount: 1080,
      exchange_rate: 1.08,
    });

    expect((await fx.control("/config", { settlement_currencies: ["xyz"] })).status).toBe(400);
    expect((await fx.control("/config", { settlement_currencies: [] })).status).toBe(400);
    expect((await fx.control("/config", { settlement_currencies: null })).body).toMatchObject({
      settlement_currencies: null,
    });
    expect((await paid(fx.stripe, 1000, "gbp")).txn).toMatchObject({ currency: "gbp", exchange_rate: null });
    fx.s.setSettlementCurrencies(["usd"]);
    expect((await paid(fx.stripe, 1000, "gbp")).txn).toMatchObject({
      currency: "usd",
      amount: 1270,
      exchange_rate: 1.27,
    });
  });
});

describe("balance transactions and the balance", () => {
  let a: Awaited<ReturnType<typeof fresh>>;
  let account = "";
  beforeAll(async () => {
    a = await fresh();
  });

  it("follow every movement: charges settle by available_on, refunds, disputes, transfers, payouts, fees", async () => {
    const { stripe, control } = a;
    const usd = (acct?: string) => balance(stripe, "usd", acct);
    const { txn } = await paid(stripe, 10_000);
    expect(txn).toMatchObject({
      type: "charge",
      reporting_category: "charge",
      status: "pending",
      net: 9_680,
    });
    expect(txn.available_on).toBe(txn.created + 2 * 86_400);
    expect(await usd()).toEqual({ available: 0, pending: 9_680 });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime((txn.available_on + 1) * 1000);
      expect(await usd()).toEqual({ available: 9_680, pending: 0 });
    } finally {
      vi.useRealTimers();
    }
    expect((await stripe.balanceTransactions.retrieve(txn.id)).status).toBe("available");

    const { charge } = await paid(stripe, 5_000);
    await stripe.refunds.create({ charge, amount: 2_000 });
    expect(await usd()).toEqual({ available: 7_680, pending: 4_825 });
    const refund = await stripe.refunds.create({
      charge,
      amount: 1_000,
      metadata: { standin_status: "pending" },
    });
    expect((await usd()).available).toBe(6_680);
    await control(`/refunds/${refund.id}/fail`);
    expect((await usd()).available).toBe(7_680);

    const { charge: disputed } = await paid(stripe, 3_000); // pending + 2_883
    const dispute = (await control<Stripe.Dispute>(`/charges/${disputed}/dispute`, {})).body;
    expect(await usd()).toEqual({ available: 7_680, pending: 4_825 + 2_883 - 4_500 });
    await control(`/disputes/${dispute.id}/close`, { outcome: "won" });
    expect((await usd()).pending).toBe(4_825 + 2_883 - 1_500);
    await control("/balance/settle");
    expect(await usd()).toEqual({ available: 13_888, pending: 0 });

    account = (await stripe.accounts.create({ type: "express" })).id;
    await control(`/accounts/${account}/enable`, {});
    const transfer = await stripe.transfers.create({ amount: 3_000, currency: "usd", destination: account });
    expect((await usd()).available).toBe(10_888);
    expect(await usd(account)).toEqual({ available: 3_000, pending: 0 });
    await stripe.transfers.createReversal(transfer.id, { amount: 1_000 });
    expect((await usd()).available).toBe(11_888);
    expect((await usd(account)).available).toBe(2_000);
    const connectedPayout = await stripe.payouts.create({ amount: 2_000, currency: "usd" }, opts(account));
    expect((await usd(account)).available).toBe(0);
    await control(`/payouts/${connectedPayout.id}/fail`, {});
    expect((await usd(account)).available).toBe(2_000);

    const payout = await stripe.payouts.create({ amount: 4_000, currency: "usd" });
    expect(payout.destination).toMatch(/^ba_/);
    expect((await usd()).available).toBe(7_888);
    const before = a.s.eventCount();
    const failed = await control<Stripe.Payout>(`/payouts/${payout.id}/fail`, {
      failure_code: "account_closed",
    });
    expect(failed.body).toMatchObject({ status: "failed", failure_code: "account_closed" });
    const events: StripeEvent[] = a.s.events(before);
    expect(events.map((e) => [e.type, e.account])).toEqual([["payout.failed", undefined]]);
    const back = await stripe.balanceTransactions.retrieve(failed.body.failure_balance_transaction as string);
    expect(back).toMatchObject({
      type: "payout_failure",
      reporting_category: "payout_reversal",
      amount: 4_000,
    });
    expect(back).toMatchObject({ source: payout.id, status: "available" });
    expect((await usd()).available).toBe(11_888);

    const fee = await control<Stripe.BalanceTransaction>("/balance_transactions", {
      amount: -500,
      currency: "usd",
      type: "stripe_fee",
      description: "Connect active account fee",
    });
    expect(fee.body).toMatchObject({ type: "stripe_fee", reporting_category: "fee", source: null, fee: 0 });
    expect(fee.body).toMatchObject({ net: -500, status: "available", fee_details: [], exchange_rate: null });
    const adjustment = a.s.addBalanceTransaction({ amount: 250, currency: "usd" });
    expect(adjustment).toMatchObject({
      type: "adjustment",
      reporting_category: "other_adjustment",
      source: null,
    });
    expect(await stripe.balanceTransactions.retrieve(adjustment.id)).toEqual(
      expect.objectContaining({ id: adjustment.id, net: 250 }),
    );
    expect(await usd()).toEqual({ available: 11_638, pending: 0 });
  });

  it("carries Stripe's type and reporting_category on each kind, and lists expand data.source in scope", async () => {
    const required = [
      "fee",
      "fee_details",
      "source",
      "reporting_category",
      "available_on",
      "exchange_rate",
      "status",
    ];
    const kinds = async (acct?: string) => {
      const plain = await allTxns(a.stripe, {}, acct);
      const expanded = await allTxns(a.stripe, { expand: ["data.source"] }, acct);
      expect(expanded.map((t) => t.id)).toEqual(plain.map((t) => t.id));
      for (const t of plain) expect(Object.keys(t)).toEqual(expect.arrayContaining(required));
      return new Set(
        expanded.map((t, i) => {
          const src = t.source as { id: string; object: string } | null;
          expect(src?.id ?? null).toBe(plain[i]?.source);
          return `${t.type}/${t.reporting_category}:${src?.object ?? null}`;
        }),
      );
    };
    expect(await kinds()).toEqual(
      new Set([
        "charge/charge:charge",
        "refund/refund:refund",
        "refund_failure/refund_failure:refund",
        "adjustment/dispute:dispute",
        "adjustment/dispute_reversal:dispute",
        "transfer/transfer:transfer",
        "transfer_refund/transfer_reversal:transfer_reversal",
        "payout/payout:payout",
        "payout_failure/payout_reversal:payout",
        "stripe_fee/fee:null",
        "adjustment/other_adjustment:null",
      ]),
    );
    expect(await kinds(account)).toEqual(
      new Set([
        "payment/charge:charge",
        "payment_refund/refund:refund",
        "payout/payout:payout",
        "payout_failure/payout_reversal:payout",
      ]),
    );
  });

  it("filters by created and pages with starting_after and ending_before", async () => {
    const { stripe, s } = a;
    const older = s.addBalanceTransaction({ amount: 1, currency: "usd" });
    await sleep(1000 - (Date.now() % 1000) + 20); // into the next second
    const newer = s.addBalanceTransaction({ amount: 2, currency: "usd" });
    const ids = async (created: Stripe.RangeQueryParam | number) =>
      (await allTxns(stripe, { created })).map((t) => t.id);
    expect(await ids({ gte: newer.created })).toEqual([newer.id]);
    expect(await ids({ lt: newer.created })).toContain(older.id);
    expect(await ids({ lt: newer.created })).not.toContain(newer.id);
    expect(await ids(older.created)).toContain(older.id);
    expect(await ids({ gt: newer.created })).toEqual([]);

    const all = await allTxns(stripe);
    const pages: string[][] = [];
    let page = await stripe.balanceTransactions.list({ limit: 4 });
    pages.push(page.data.map((t) => t.id));
    while (page.has_more) {
      page = await stripe.balanceTransactions.list({ limit: 4, starting_after: page.data.at(-1)?.id });
      pages.push(page.data.map((t) => t.id));
    }
    expect(pages.flat()).toEqual(all.map((t) => t.id));
    const back = await stripe.balanceTransactions.list({ limit: 4, ending_before: pages[1]?.[0] });
    expect(back.data.map((t) => t.id)).toEqual(pages[0]);
    expect(back.has_more).toBe(false);
    const manual = await stripe.payouts.list({ limit: 1 });
    await expect(stripe.balanceTransactions.list({ payout: manual.data[0]?.id })).rejects.toMatchObject({
      statusCode: 400,
      param: "payout",
    });
  });

  it("refuses a Stripe-made transaction it could not hold", async () => {
    const fx = await fresh({ settlementCurrencies: ["usd"] });
    const post = (body: unknown) => fx.control("/balance_transactions", body);
    expect((await post({ amount: 0, currency: "usd" })).status).toBe(400);
    expect((await post({ amount: 1, currency: "xyz" })).status).toBe(400);
    expect((await post({ amount: 1, currency: "eur" })).status).toBe(400);
    expect((await post({ amount: 1, currency: "usd", type: "charge" })).status).toBe(400);
    expect((await post({ amount: 1, currency: "usd", account: "acct_missing" })).status).toBe(404);
    expect(
      (await post({ amount: 1, currency: "usd", reporting_category: "risk_reserved_funds" })).body,
    ).toMatchObject({
      type: "adjustment",
      reporting_category: "risk_reserved_funds",
    });
  });
});

describe("dropped webhook deliveries", () => {
  let hooks: Awaited<ReturnType<typeof fresh>>;
  const received: string[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string }).id);
      res.writeHead(200).end();
    });
  });
  let url = "";
  beforeAll(async () => {
    hooks = await fresh();
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`;
    hooks.s.setWebhook(url);
  });
  afterAll(() => new Promise((resolve) => receiver.close(resolve)));

  /** Creates `n` PaymentIntents (one event each) and returns their events' ids. */
  async function created(target: Awaited<ReturnType<typeof fresh>>, n: number): Promise<string[]> {
    const since = target.s.eventCount();
    for (let i = 0; i < n; i++) await target.stripe.paymentIntents.create({ amount: 500, currency: "usd" });
    await target.s.flushWebhooks();
    return target.s.events(since).map((e) => e.id);
  }

  it("drops a seeded 10 %: the events exist and are listed, but are never delivered", async () => {
    expect((await hooks.control("/webhooks/drop", { ratio: 10 })).status).toBe(400);
    expect((await hooks.control("/webhooks/drop", { ratio: 0.1, seed: 42 })).body).toEqual({ ok: true });
    const ids = await created(hooks, 60);
    const dropped = hooks.s.droppedEvents();
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.length).toBeLessThan(20);
    expect(received.filter((id) => ids.includes(id)).sort()).toEqual(
      ids.filter((id) => !dropped.includes(id)).sort(),
    );
    const listed: string[] = [];
    for await (const e of hooks.stripe.events.list({ limit: 100, type: "payment_intent.created" }))
      listed.push(e.id);
    expect(listed).toEqual(expect.arrayContaining(dropped));
    expect((await hooks.stripe.events.retrieve(dropped[0] ?? "")).id).toBe(dropped[0]);

    // The same seed drops the same positions again.
    const twin = await fresh({ webhookUrl: url });
    twin.s.dropWebhooks({ ratio: 0.1, seed: 42 });
    const twinIds = await created(twin, 60);
    const positions = (all: string[], gone: string[]) => gone.map((id) => all.indexOf(id));
    expect(positions(twinIds, twin.s.droppedEvents())).toEqual(positions(ids, dropped));

    // Redelivered late, as Stripe might: now it arrives.
    expect((await hooks.control(`/events/${dropped[0]}/redeliver`)).body).toEqual({ redelivered: true });
    await hooks.s.flushWebhooks();
    expect(received).toContain(dropped[0]);
  });

  it("drops only the types asked for, and stops when told", async () => {
    hooks.s.dropWebhooks({ types: ["charge.*"] });
    const since = hooks.s.eventCount();
    await paid(hooks.stripe, 700);
    await hooks.s.flushWebhooks();
    const events = hooks.s.events(since);
    const charge = events.find((e) => e.type === "charge.succeeded");
    expect(hooks.s.droppedEvents()).toContain(charge?.id);
    expect(received).not.toContain(charge?.id);
    expect(received).toContain(events.find((e) => e.type === "payment_intent.succeeded")?.id);

    const off = await hooks.control<{ dropped: string[] }>("/webhooks/drop", undefined, "DELETE");
    expect(off.body.dropped).toContain(charge?.id);
    const later = await created(hooks, 3);
    expect(received).toEqual(expect.arrayContaining(later));
    expect((await hooks.control("/webhooks/dropped", undefined, "GET")).body).toEqual({
      dropped: off.body.dropped,
    });
  });
});

describe("events for healing", () => {
  it("lists by types[] and created, page by page, and refuses what Stripe refuses", async () => {
    const { s, stripe } = await fresh();
    await paid(stripe, 800);
    await paid(stripe, 900);
    const all = s.events();
    const since = all[0]?.created ?? 0;
    const listed: string[] = [];
    const types = ["charge.succeeded", "payment_intent.succeeded"];
    for await (const e of stripe.events.list({ types, created: { gte: since }, limit: 1 })) listed.push(e.id);
    const expected = all.filter((e) => types.includes(e.type)).reverse();
    expect(listed).toEqual(expected.map((e) => e.id));
    expect((await stripe.events.list({ created: { gt: all.at(-1)?.created ?? 0 } })).data).toEqual([]);
    const both = stripe.events.list({ type: "charge.succeeded", types });
    await expect(both).rejects.toMatchObject({ statusCode: 400, param: "types" });
    await expect(stripe.events.list({ types: ["charge.*"] })).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe("paging at scale", () => {
  it("pages 100,000 balance transactions 100 at a time, each once, newest first", async () => {
    const { s, stripe } = await fresh();
    const ids: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      ids.push(s.addBalanceTransaction({ amount: (i % 7) + 1, currency: "usd", type: "stripe_fee" }).id);
    }
    await paid(stripe, 1_000); // events and other types beside them
    const started = Date.now();
    const listed = await allTxns(stripe, { created: { gte: 0 }, expand: ["data.source"] });
    console.log(`paged ${listed.length} balance transactions in ${Date.now() - started} ms`);
    expect(listed).toHaveLength(100_001);
    expect(listed[0]?.type).toBe("charge");
    expect(listed.slice(1).map((t) => t.id)).toEqual(ids.reverse());
  }, 120_000);
});
