/* eslint-disable @typescript-eslint/no-explicit-any -- answers are checked against the document */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conformance } from "./support/conformance.js";
import { eventEnvelope, paymentIntentObject, sign, stripeId } from "./support/events.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { confirmSetup, createPlan, subscriptionOf } from "./support/subscriptions.js";
import { tokenFor } from "./support/tokens.js";
import { readyUser } from "./support/withdrawals.js";

/**
 * Every operation in /openapi.json, called for real (the web, a worker process, the stand-in,
 * Postgres and Redis), on its happy path and on the errors a client meets, each answer checked
 * against the document (test/support/conformance.ts). An operation no case here calls fails the
 * last test: a new route needs its request here.
 */
let sys: System;
let api: ReturnType<typeof conformance>;
const USER = `conf-${randomUUID().slice(0, 8)}`;
const ADMIN = "admin:conf-admin";
const LIMIT_PER_MINUTE = 20;

beforeAll(async () => {
  sys = await startSystem({ workers: 1, env: { RATE_LIMIT_PER_MINUTE: String(LIMIT_PER_MINUTE) } });
  const doc = await (await fetch(`${sys.url}/openapi.json`)).json();
  api = conformance(sys.url, doc);
  await readyUser(sys, USER, 20_000);
}, 120_000);
afterAll(async () => {
  await sys?.stop();
});

describe("every documented operation answers as documented", () => {
  it("without a token: 401 where a token is needed, the public routes as they are", async () => {
    for (const [operationId, { method, op }] of api.ops) {
      const a = await api.call(operationId, method === "get" ? {} : { body: {} });
      if (op.security.length > 0) expect(a.status, operationId).toBe(401);
    }
  });

  it("ops: health, readiness, metrics, this document, Bull Board", async () => {
    await api.expectStatus(200, "healthz");
    expect((await api.expectStatus(200, "readyz")).body.checks).toEqual({ postgres: true, redis: true });
    await api.expectStatus(200, "metrics");
    await api.expectStatus(200, "openApi");
    await api.expectStatus(200, "bullBoard", { as: ADMIN });
    await api.expectStatus(403, "bullBoard", { as: USER });
    await api.expectStatus(303, "bullBoard", { headers: { accept: "text/html" } });
    await api.expectStatus(200, "bullBoardLoginPage");
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const token = tokenFor("conf-admin", { role: "admin" });
    const login = await api.expectStatus(303, "bullBoardLogin", {
      rawBody: new URLSearchParams({ token }).toString(),
      headers: form,
    });
    expect(login.headers.get("set-cookie")).toMatch(/^coffer_admin_token=.*HttpOnly/);
    await api.expectStatus(403, "bullBoardLogin", {
      rawBody: new URLSearchParams({ token: tokenFor(USER) }).toString(),
      headers: form,
    });
    await api.expectStatus(303, "bullBoardLogout");
  });

  it("webhooks: a signed event is stored, a bad signature refused", async () => {
    const event = eventEnvelope("payment_intent.created", paymentIntentObject({ id: stripeId("pi") }));
    const payload = JSON.stringify(event);
    const ok = await api.expectStatus(200, "receiveStripeWebhook", {
      rawBody: payload,
      headers: { "content-type": "application/json", "stripe-signature": sign(payload) },
    });
    expect(ok.body.received).toBe(true);
    await api.expectStatus(400, "receiveStripeWebhook", {
      rawBody: payload,
      headers: {
        "content-type": "application/json",
        "stripe-signature": sign(payload, { secret: "whsec_other" }),
      },
    });
  });

  it("wallet and top-ups", async () => {
    const w = await api.expectStatus(200, "getWallet", { as: USER });
    await api.expectStatus(304, "getWallet", {
      as: USER,
      headers: { "if-none-match": w.headers.get("etag")! },
    });
    await api.expectStatus(200, "listWalletLedger", { as: USER, query: "limit=5&account=available" });
    await api.expectStatus(422, "listWalletLedger", { as: USER, query: "limit=0" });
    await api.expectStatus(400, "listWalletLedger", { as: USER, query: "starting_after=nope" });
    const key = { "idempotency-key": `conf-${randomUUID()}` };
    const body = { amount_minor: 1_500, currency: "usd" };
    const created = await api.expectStatus(201, "createTopUp", { as: USER, body, headers: key });
    const again = await api.expectStatus(201, "createTopUp", { as: USER, body, headers: key });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    await api.expectStatus(422, "createTopUp", {
      as: USER,
      body: { ...body, amount_minor: 1.5 },
      headers: key,
    });
    await api.expectStatus(400, "createTopUp", { as: USER, body });
    await api.expectStatus(200, "listTopUps", { as: USER });
    await api.expectStatus(200, "getTopUp", { as: USER, params: { id: created.body.id } });
    await api.expectStatus(404, "getTopUp", { as: USER, params: { id: "topup_nope" } });
  });

  it("connect and bank accounts (Express: Stripe holds the bank account)", async () => {
    await api.expectStatus(200, "getConnectedAccount", { as: USER });
    await api.expectStatus(404, "getConnectedAccount", { as: `nobody-${randomUUID()}` });
    const link = await api.expectStatus(200, "createConnectedAccount", { as: USER, body: {} });
    // The pages Stripe sends the user's browser to from that link.
    const refresh = new URL(new URL(link.body.onboarding_url).searchParams.get("refresh_url")!);
    await api.expectStatus(303, "connectRefreshPage", { query: refresh.searchParams.toString() });
    await api.expectStatus(400, "connectRefreshPage", { query: "token=v1.forged.token" });
    await api.expectStatus(200, "connectReturnPage");
    const banks = await api.expectStatus(200, "listBankAccounts", { as: USER });
    expect(banks.body.data.length).toBeGreaterThan(0);
    await api.expectStatus(409, "createBankAccountSession", { as: USER, body: {} });
  });

  it("legacy decimal amounts, on request, with Deprecation and Sunset", async () => {
    const w = await api.expectStatus(200, "getWallet", { as: USER, query: "include=legacy_amounts" });
    expect(w.headers.get("deprecation")).not.toBeNull();
    expect(typeof w.body.balances[0].available).toBe("string");
    const topUps = await api.expectStatus(200, "listTopUps", { as: USER, query: "include=legacy_amounts" });
    expect(typeof topUps.body.data[0].amount).toBe("string");
    await api.expectStatus(422, "listTopUps", { as: USER, query: "include=everything" });
    await api.expectStatus(422, "getWallet", { as: USER, query: "includ=legacy_amounts" });
  });

  it("plans and subscriptions", async () => {
    const price = await createPlan(sys, { name: "Conformance", amount: 900 });
    const plans = await api.expectStatus(200, "listPlans", { as: USER, query: "limit=100" });
    expect(plans.body.data.length).toBeGreaterThan(0);
    const body = { price_id: price.id };
    const headers = { "idempotency-key": `conf-sub-${randomUUID()}` };
    const setup = await api.expectStatus(201, "createSubscription", { as: USER, body, headers });
    await api.expectStatus(422, "createSubscription", {
      as: USER,
      body: { price_id: "price_nope" },
      headers: { "idempotency-key": randomUUID() },
    });
    await confirmSetup(sys, setup.body.setup_intent_id);
    const sub = await subscriptionOf(sys, USER, setup.body.id);
    await api.expectStatus(200, "listSubscriptions", { as: USER });
    await api.expectStatus(200, "getSubscription", { as: USER, params: { id: sub.id } });
    await api.expectStatus(404, "getSubscription", { as: "someone-else", params: { id: sub.id } });
    await api.expectStatus(200, "cancelSubscription", { as: USER, params: { id: sub.id } });
    await api.expectStatus(409, "cancelSubscription", { as: USER, params: { id: sub.id } });
  });

  const withdrawals: string[] = [];
  it("withdrawals: request, list, read, cancel", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await api.expectStatus(201, "createWithdrawal", {
        as: USER,
        body: { amount_minor: 1_000, currency: "usd" },
        headers: { "idempotency-key": `conf-wd-${randomUUID()}` },
      });
      withdrawals.push(r.body.id);
    }
    await api.expectStatus(409, "createWithdrawal", {
      as: USER,
      body: { amount_minor: 10_000_000, currency: "usd" },
      headers: { "idempotency-key": `conf-wd-${randomUUID()}` },
    });
    await api.expectStatus(200, "listWithdrawals", { as: USER, query: "limit=2" });
    await api.expectStatus(200, "getWithdrawal", { as: USER, params: { id: withdrawals[0]! } });
    await api.expectStatus(404, "getWithdrawal", { as: "someone-else", params: { id: withdrawals[0]! } });
    await api.expectStatus(200, "cancelWithdrawal", { as: USER, params: { id: withdrawals[2]! }, body: {} });
    await api.expectStatus(409, "cancelWithdrawal", { as: USER, params: { id: withdrawals[2]! }, body: {} });
  });

  it("admin: withdrawals, events, summary, a user's wallet and ledger, the check, the audit log", async () => {
    await api.expectStatus(403, "adminListWithdrawals", { as: USER });
    await api.expectStatus(200, "adminListWithdrawals", { as: ADMIN, query: "status=pending_review" });
    await api.expectStatus(422, "adminListWithdrawals", { as: ADMIN, query: "status=lost" });
    const approved = await api.expectStatus(200, "approveWithdrawal", {
      as: ADMIN,
      params: { id: withdrawals[0]! },
      body: { reason: "conformance" },
    });
    expect(approved.body.status).toBe("approved");
    await api.expectStatus(200, "rejectWithdrawal", {
      as: ADMIN,
      params: { id: withdrawals[1]! },
      body: { reason: "no" },
    });
    await api.expectStatus(409, "rejectWithdrawal", {
      as: ADMIN,
      params: { id: withdrawals[1]! },
      body: { reason: "no" },
    });
    await api.expectStatus(422, "rejectWithdrawal", { as: ADMIN, params: { id: withdrawals[1]! }, body: {} });
    await api.expectStatus(404, "approveWithdrawal", { as: ADMIN, params: { id: "wd_nope" }, body: {} });

    const events = await api.expectStatus(200, "adminListEvents", {
      as: ADMIN,
      query: "status=processed&limit=100",
    });
    const processed = events.body.data[0].id as string;
    await api.expectStatus(409, "replayEvent", { as: ADMIN, params: { id: processed }, body: {} });
    // A failed event, as a cause outlasting its retries leaves it; replaying is always safe.
    await sys.tdb.db("stripe_webhook_events").where({ id: processed }).update({ status: "failed" });
    await api.expectStatus(200, "replayEvent", {
      as: ADMIN,
      params: { id: processed },
      body: { reason: "test" },
    });
    await api.expectStatus(404, "replayEvent", { as: ADMIN, params: { id: "evt_nope" }, body: {} });

    await api.expectStatus(200, "adminSummary", { as: ADMIN });
    await api.expectStatus(200, "adminGetUserWallet", { as: ADMIN, params: { id: USER } });
    await api.expectStatus(404, "adminGetUserWallet", {
      as: ADMIN,
      params: { id: `nobody-${randomUUID()}` },
    });
    await api.expectStatus(200, "adminListUserLedger", {
      as: ADMIN,
      params: { id: USER },
      query: "currency=usd",
    });
    await api.expectStatus(200, "adminCheckLedger", { as: ADMIN });
    const audit = await api.expectStatus(200, "adminListAuditLog", { as: ADMIN, query: "limit=3" });
    expect(audit.body.data.length).toBeGreaterThan(0);

    const notes = await api.expectStatus(200, "adminListNotifications", { as: ADMIN });
    if (notes.body.data.length > 0)
      await api.expectStatus(200, "adminMarkNotificationDelivered", {
        as: ADMIN,
        params: { id: notes.body.data[0].id },
      });
    await api.expectStatus(404, "adminMarkNotificationDelivered", { as: ADMIN, params: { id: "ntf_nope" } });
  });

  it("reconciliation: a run, its snapshots, the opening balance", async () => {
    const run = await api.expectStatus(202, "startReconciliationRun", { as: ADMIN, body: {} });
    await api.expectStatus(422, "startReconciliationRun", { as: ADMIN, body: { from: "yesterday" } });
    await eventually(
      async () => {
        const r = await api.expectStatus(200, "getReconciliationRun", {
          as: ADMIN,
          params: { id: run.body.id },
        });
        return r.body.finished_at !== null;
      },
      { timeoutMs: 60_000, what: "the run to finish" },
    );
    await api.expectStatus(404, "getReconciliationRun", { as: ADMIN, params: { id: "rec_nope" } });
    const snaps = await api.expectStatus(200, "listReconciliationSnapshots", { as: ADMIN });
    expect(snaps.body.data.length).toBeGreaterThan(0);
    await api.expectStatus(422, "listReconciliationSnapshots", { as: ADMIN, query: "currency=xyz" });
    const opening = { currency: "eur", amount_minor: 100 };
    await api.expectStatus(201, "recordOpeningBalance", { as: ADMIN, body: opening });
    await api.expectStatus(409, "recordOpeningBalance", { as: ADMIN, body: opening });
  });

  it("429 with Retry-After past the caller's limit", async () => {
    const hurried = `conf-hurried-${randomUUID().slice(0, 8)}`;
    let last: any;
    for (let i = 0; i <= LIMIT_PER_MINUTE; i++)
      last = await api.call("createWithdrawal", {
        as: hurried,
        body: {},
        headers: { "idempotency-key": `k${i}` },
      });
    expect(last.status).toBe(429);
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("called every operation on its happy path or a documented error", () => {
    const unanswered = [...api.ops.keys()].filter((id) => !api.answered.has(id));
    expect(unanswered, "operations no case calls: add one above").toEqual([]);
    // And each one at least once with something other than the unauthenticated refusal.
    const onlyRefused = [...api.ops]
      .filter(([, { op }]) => op.security.length > 0)
      .map(([id]) => id)
      .filter((id) => [...api.answered.get(id)!].every((s) => s === 401));
    expect(onlyRefused, "operations only called without a token").toEqual([]);
  });
});
