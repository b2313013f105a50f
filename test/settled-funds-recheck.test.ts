import { Writable } from "node:stream";
import { pino } from "pino";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followFailed, FOLLOW_FAILURES_TO_ALERT } from "../src/flows/balance-follow.js";
import { recheckDueLines, RECHECK_READS_PER_PASS } from "../src/flows/balance-recheck.js";
import { StripeBudgetExhausted } from "../src/stripe/budget.js";
import { api } from "./support/api.js";
import { control, processorDeps } from "./support/lifecycles.js";
import { chargeLine, topUpMore, until, walletRead, workerPass } from "./support/settling.js";
import { startSystem, type System } from "./support/system.js";
import { WEBHOOK_SECRET } from "./support/tokens.js";
import {
  readyUser,
  requestWithdrawal,
  settledAndBalanced,
  settling,
  streamPass,
} from "./support/withdrawals.js";

/**
 * A credit settles on Stripe's word, not on its date (src/ledger/settling.ts): once a pending
 * line's recorded `available_on` has come, the worker's pass asks Stripe again
 * (src/flows/balance-recheck.ts), and a date Stripe pushed back meanwhile is stored, not trusted.
 */
let sys: System;
beforeAll(async () => {
  // No timer passes: each test makes the worker's pass itself (workerPass), when it means to.
  sys = await startSystem({ workers: 1, env: { BALANCE_STREAM_INTERVAL_MS: "0" } });
});
afterAll(async () => sys?.stop());

/** A top-up whose funds Stripe makes available `afterS` seconds after the charge. */
async function quickTopUp(user: string, amountMinor: number, afterS: number): Promise<string> {
  sys.standin.setAvailableAfter(afterS);
  try {
    return await topUpMore(sys, user, amountMinor, `${user}-quick-${amountMinor}`);
  } finally {
    sys.standin.setAvailableAfter(undefined);
  }
}

/**
 * Another user's payment, made after `at`, and a worker's pass that reads it: the follow pass's
 * cursor moves past the lines made before, so only the recheck can read those again. (The follow
 * pass re-reads its last two seconds, which would confirm a line made just before the cursor.)
 */
let fillers = 0;
async function laterPayment(at: number): Promise<void> {
  await until(at);
  fillers += 1;
  await topUpMore(sys, `filler-${fillers}`, 500, `filler-${fillers}`);
  await workerPass(sys);
}

const balanceReads = () =>
  sys.standin.requests().filter((r) => r.method === "GET" && r.path.startsWith("/v1/balance_transactions"))
    .length;

describe("a date that has come", () => {
  it("is not taken as settled until the worker's pass has Stripe's word for it, and one read does that", async () => {
    await readyUser(sys, "clock", 1_000);
    const pi = await quickTopUp("clock", 3_000, 6);
    await streamPass(sys);
    const line = await chargeLine(sys, pi);
    expect(line.status).toBe("pending");
    await laterPayment(line.available_on - 4);
    const before = await walletRead(sys, "clock");
    expect(before.balance.settling_minor).toBe(3_000);

    await until(line.available_on);
    // Stripe's date has passed, but nobody has asked Stripe: still settling, and the refusal says so.
    expect(await settling(sys, "clock")).toBe(3_000);
    const early = await requestWithdrawal(sys, "clock", 1_500);
    expect(early.body.error.code).toBe("funds_not_settled");
    expect(Date.parse(early.body.error.settles_at as string) / 1000).toBe(line.available_on);
    expect(early.body.error.message).toMatch(/has come/);

    const reads = balanceReads();
    const pass = await workerPass(sys);
    expect(pass.recheck).toMatchObject({ answered: 1, left: 0 });
    // The follow pass's page and one recheck list: nothing per line.
    expect(balanceReads() - reads).toBeLessThanOrEqual(2);
    expect((await chargeLine(sys, pi)).status).toBe("available");
    const after = await walletRead(sys, "clock");
    expect(after.balance.settling_minor).toBe(0);
    expect(after.etag).not.toBe(before.etag);
    const changed = await api(sys.url, "GET", "/v1/wallet", {
      user: "clock",
      headers: { "if-none-match": before.etag! },
    });
    expect(changed.status).toBe(200);
    expect((await requestWithdrawal(sys, "clock", 1_500)).status).toBe(201);

    // Answered lines are not asked about again.
    const again = await workerPass(sys);
    expect(again.recheck.reads).toBe(0);
  });
});

describe("available_on pushed back by Stripe", () => {
  it("is stored by the recheck: refused until the new date, then allowed", async () => {
    await readyUser(sys, "pushed", 1_000);
    const pi = await quickTopUp("pushed", 2_000, 6);
    await streamPass(sys);
    const line = await chargeLine(sys, pi);
    await laterPayment(line.available_on - 4);
    // A reserve at Stripe, after the follow pass has moved on: the line's funds come six seconds
    // later than first said, and no event says so.
    const later = line.available_on + 6;
    const moved = await control(sys.standin).post(`/balance_transactions/${line.id}/available_on`, {
      available_on: later,
    });
    expect(moved).toMatchObject({ id: line.id, status: "pending", available_on: later });
    expect((await chargeLine(sys, pi)).available_on).toBe(line.available_on);

    await until(line.available_on);
    expect((await requestWithdrawal(sys, "pushed", 1_500)).body.error.code).toBe("funds_not_settled");
    const pass = await workerPass(sys);
    expect(pass.recheck.answered).toBe(1);
    expect(await chargeLine(sys, pi)).toMatchObject({ status: "pending", available_on: later });
    const refused = await requestWithdrawal(sys, "pushed", 1_500);
    expect(refused.body.error).toMatchObject({ code: "funds_not_settled", withdrawable_minor: 1_000 });
    expect(Date.parse(refused.body.error.settles_at as string) / 1000).toBe(later);
    expect(refused.body.error.message).toContain("enough settles at");
    expect(await settling(sys, "pushed")).toBe(2_000);

    // Not due again before the new date: a pass in between asks nothing.
    expect((await workerPass(sys)).recheck.reads).toBe(0);

    await until(later);
    expect((await requestWithdrawal(sys, "pushed", 1_500)).body.error.code).toBe("funds_not_settled");
    expect((await workerPass(sys)).recheck.answered).toBe(1);
    expect(await settling(sys, "pushed")).toBe(0);
    expect((await requestWithdrawal(sys, "pushed", 1_500)).status).toBe(201);
    await settledAndBalanced(sys);
  });
});

describe("the stand-in's available_on control", () => {
  const move = (id: string, body: unknown) =>
    fetch(`${sys.standin.url}/_standin/balance_transactions/${id}/available_on`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("is as strict as Stripe: only pending funds move, never to before the charge, nothing else is taken", async () => {
    const pi = await quickTopUp("strict", 700, 3_600);
    await streamPass(sys);
    const line = await chargeLine(sys, pi);
    const before = await move(line.id, { available_on: line.available_on - 7_200 });
    expect(before.status).toBe(400);
    expect(((await before.json()) as { error: { param: string } }).error.param).toBe("available_on");
    expect((await move(line.id, { available_on: "soon" })).status).toBe(400);
    expect((await move(line.id, { available_on: line.available_on, amount: 1 })).status).toBe(400);
    expect((await move("txn_missing", { available_on: line.available_on })).status).toBe(404);

    sys.standin.settleBalance();
    const settled = await move(line.id, { available_on: line.available_on + 60 });
    expect(settled.status).toBe(400);
    expect(((await settled.json()) as { error: { message: string } }).error.message).toMatch(
      /already available/,
    );
  });
});

/** Card payments Coffer did not create, webhooks off, funds `afterS` on: only their lines matter. */
async function strayPayments(count: number, afterS: number): Promise<Set<string>> {
  sys.standin.setWebhook(undefined);
  sys.standin.setAvailableAfter(afterS);
  const ctl = control(sys.standin);
  const made = new Set<string>();
  try {
    for (let i = 0; i < count; i++) {
      const pi = await ctl.stripe.paymentIntents.create({
        amount: 1_000 + i,
        currency: "usd",
        confirm: true,
        payment_method: "pm_card_visa",
        automatic_payment_methods: { enabled: true, allow_redirects: "never" },
      });
      made.add(pi.latest_charge as string);
    }
  } finally {
    sys.standin.setAvailableAfter(undefined);
    sys.standin.setWebhook(`${sys.url}/webhooks/stripe`, WEBHOOK_SECRET);
  }
  return made;
}

describe("the recheck's reads by id", () => {
  const retrieves = () =>
    sys.standin
      .requests()
      .filter((r) => r.method === "GET" && /^\/v1\/balance_transactions\/txn_/.test(r.path)).length;
  /**
   * Two mirrored lines made due, each recorded a day after Stripe's `created` for it: a listing
   * of their window holds neither, as when Stripe lists a line late, and only a read by id finds
   * them. Stripe's own date for them is an hour on, so each answer is "pending, later".
   */
  const dueOutsideTheirWindow = async (): Promise<string[]> => {
    const charges = await strayPayments(2, 3_600);
    await streamPass(sys);
    const now = Math.floor(Date.now() / 1000);
    const lines = sys.tdb.db("stripe_balance_transactions");
    const ids = (await lines
      .clone()
      .whereIn("source_id", [...charges])
      .pluck("id")) as string[];
    expect(ids).toHaveLength(2);
    await lines
      .clone()
      .whereIn("id", ids)
      .update({ available_on: now - 1, checked_at: null, created: sys.tdb.db.raw("created + 86400") });
    return ids;
  };

  it("reads each due line by id once its window is read whole without it", async () => {
    const ids = await dueOutsideTheirWindow();
    const before = { reads: balanceReads(), byId: retrieves() };
    const r = await recheckDueLines(processorDeps(sys), Math.floor(Date.now() / 1000), { maxReads: 3 });
    expect(r).toEqual({ reads: 3, answered: 2, left: 0 });
    expect({ reads: balanceReads() - before.reads, byId: retrieves() - before.byId }).toEqual({
      reads: 3,
      byId: 2,
    });
    const stored = await sys.tdb
      .db("stripe_balance_transactions")
      .whereIn("id", ids)
      .select("status", "available_on");
    for (const l of stored as Array<{ status: string; available_on: number }>) {
      expect(l.status).toBe("pending");
      expect(Number(l.available_on)).toBeGreaterThan(Date.now() / 1000 + 3_000);
    }
  });

  it("reads the next batch of due lines from Postgres once one is answered, within the pass", async () => {
    await dueOutsideTheirWindow();
    const now = Math.floor(Date.now() / 1000);
    // A batch of one: each is its own window (a list that holds nothing, then the line by id).
    const r = await recheckDueLines(processorDeps(sys), now, { maxReads: 5, dueBatch: 1 });
    expect(r).toEqual({ reads: 4, answered: 2, left: 0 });
  });

  it("spends the last read of a pass that answered nothing on the newest due line, by id", async () => {
    const ids = await dueOutsideTheirWindow();
    const newest = (await sys.tdb
      .db("stripe_balance_transactions")
      .whereIn("id", ids)
      .orderBy([
        { column: "created", order: "desc" },
        { column: "id", order: "desc" },
      ])
      .first("id")) as { id: string };
    const byId = retrieves();
    const pass = () => recheckDueLines(processorDeps(sys), Math.floor(Date.now() / 1000), { maxReads: 1 });
    expect(await pass()).toEqual({ reads: 1, answered: 1, left: 1 });
    expect(retrieves() - byId).toBe(1);
    const last = sys.standin
      .requests()
      .filter((r) => r.path.startsWith("/v1/balance_transactions"))
      .at(-1);
    expect(last?.path).toBe(`/v1/balance_transactions/${newest.id}`);
    // The next pass answers the other: every pass makes progress, however its window looks.
    expect(await pass()).toEqual({ reads: 1, answered: 1, left: 0 });
  });
});

describe("passes that keep failing", () => {
  it("warn, then alert from the third in a row; a rate limit neither alerts nor counts", () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as never);
        done();
      },
    });
    const deps = { log: pino({ level: "info" }, sink) } as unknown as Parameters<typeof followFailed>[0];
    const refused = new Stripe.errors.StripeAuthenticationError({
      message: "Invalid API Key",
      type: "invalid_request_error",
    });
    let n = 0;
    n = followFailed(deps, refused, n);
    n = followFailed(deps, new StripeBudgetExhausted(1_000, 20), n);
    n = followFailed(deps, new Error("connection terminated"), n);
    expect(n).toBe(2);
    expect(lines.some((l) => l.alert === true)).toBe(false);
    n = followFailed(deps, refused, n);
    expect(n).toBe(FOLLOW_FAILURES_TO_ALERT);
    expect(lines.at(-1)).toMatchObject({ level: 50, alert: true, failures: 3 });
    expect(lines.filter((l) => l.level === 40)).toHaveLength(3);
  });
});

describe("the recheck's cost", () => {
  const duePending = async () => {
    const row = await sys.tdb
      .db("stripe_balance_transactions")
      .where({ status: "pending" })
      .where("available_on", "<=", Math.floor(Date.now() / 1000))
      .count<{ n: string }>("* as n")
      .first();
    return Number(row?.n ?? 0);
  };

  it("answers a day's backlog of due lines in one pass, a page at a time, not a read per line", async () => {
    // 350 card payments, more than the 3 reads a pass once made could answer (300): the pass
    // keeps reading while lines are due, within RECHECK_READS_PER_PASS.
    await readyUser(sys, "cost", 500); // a posting of Coffer's: before one, no pass reads the stream
    const ours = await strayPayments(350, 3_600);
    const ctl = control(sys.standin);
    // Their dates are brought near only once all are made (Stripe's rate limit makes 350
    // payments take seconds, longer on a loaded machine), so the stream reads every one of them
    // before its date: what it read after its date would be settled already.
    const soon = Math.floor(Date.now() / 1000) + 10;
    for await (const txn of ctl.stripe.balanceTransactions.list({ type: "charge", limit: 100 })) {
      if (!ours.has(txn.source as string)) continue;
      const res = await fetch(`${sys.standin.url}/_standin/balance_transactions/${txn.id}/available_on`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ available_on: soon }),
      });
      expect(res.status).toBe(200);
    }
    await streamPass(sys);
    const newest = await sys.tdb
      .db("stripe_balance_transactions")
      .where({ status: "pending" })
      .whereIn("source_id", [...ours]) // not the lines the tests above recorded a day on
      .max("created as created")
      .max("available_on as due")
      .first<{ created: number; due: number }>();
    await laterPayment(Number(newest.created) + 2);
    await until(Number(newest.due));
    // Those the stream read after their date are settled already; on a fast machine, none are.
    const due = await duePending();
    expect(due).toBeGreaterThan(300);
    expect(Math.ceil(due / 100)).toBeLessThanOrEqual(RECHECK_READS_PER_PASS);

    const reads = balanceReads();
    const pass = await workerPass(sys);
    expect(await duePending()).toBe(0);
    expect(pass.recheck).toMatchObject({ answered: due, left: 0, reads: Math.ceil(due / 100) });
    expect(balanceReads() - reads).toBe(pass.recheck.reads + 1); // and the follow pass's one page
  });
});
