import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, pay, topUp, wallet } from "./support/api.js";
import { deliver } from "./support/events.js";
import { control } from "./support/lifecycles.js";
import { eventually, startSystem, type System } from "./support/system.js";
import {
  approve,
  requestWithdrawal,
  settledAndBalanced,
  settleFunds,
  waitForStatus,
} from "./support/withdrawals.js";

/**
 * CONNECT_ACCOUNT_TYPE=custom: Coffer collects the payout bank itself with Financial Connections,
 * and the linked account is attached to the Custom connected account as its default external
 * account for the currency, so the payout goes there (SPEC → Bank accounts).
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1, env: { CONNECT_ACCOUNT_TYPE: "custom" } });
});
afterAll(async () => sys?.stop());

const connectAccount = (user: string) => api(sys.url, "GET", "/v1/connect/account", { user });
const banks = async (user: string) =>
  (await api(sys.url, "GET", "/v1/bank-accounts", { user })).body.data as Array<Record<string, unknown>>;

/** A Custom account that finished onboarding: verified, but with nowhere to send payouts yet. */
async function onboardedCustom(user: string): Promise<string> {
  const onboarded = await api(sys.url, "POST", "/v1/connect/account", { user });
  expect(onboarded.status).toBe(200);
  const acct = onboarded.body.account_id as string;
  const atStripe = await control(sys.standin).stripe.accounts.retrieve(acct);
  expect(atStripe).toMatchObject({ type: "custom", controller: { requirement_collection: "application" } });
  await control(sys.standin).post(`/accounts/${acct}/enable`, {});
  await eventually(
    async () => (await connectAccount(user)).body.requirements_due?.[0] === "external_account",
    {
      what: "onboarding applied",
    },
  );
  expect((await connectAccount(user)).body).toMatchObject({ payouts_enabled: false });
  return acct;
}

/** The user links a bank in the Financial Connections modal Coffer's session opens. */
async function linkBank(user: string, last4: string): Promise<{ fca: string }> {
  const session = await api(sys.url, "POST", "/v1/bank-accounts/session", { user });
  expect(session.status).toBe(200);
  expect(session.body.client_secret).toMatch(/^fcsess_client_secret_/);
  const linked = await control(sys.standin).post(
    `/financial_connections/sessions/${session.body.session_id}/link`,
    { institution_name: "Test Bank", last4 },
  );
  return { fca: linked.id as string };
}

describe("Custom accounts: the linked bank is where the payout goes", () => {
  it("attaches the Financial Connections account as the default external account, and the payout goes there", async () => {
    const user = "custom-1";
    const created = await topUp(sys.url, user, 5_000, "usd", "custom-1-fund");
    await pay(sys.standin.url, created.body.payment_intent_id as string);
    const acct = await onboardedCustom(user);

    const { fca } = await linkBank(user, "4321");
    await eventually(async () => (await banks(user)).length === 1, { what: "bank attached" });
    const atStripe = await control(sys.standin).stripe.accounts.listExternalAccounts(acct);
    expect(atStripe.data).toHaveLength(1);
    const external = atStripe.data[0] as Stripe.BankAccount;
    expect(external).toMatchObject({
      default_for_currency: true,
      last4: "4321",
      metadata: { financial_connections_account: fca },
    });
    expect(await banks(user)).toEqual([
      {
        id: expect.stringMatching(/^ba_/),
        external_account_id: external.id,
        financial_connections_account_id: fca,
        last4: "4321",
        bank_name: "Test Bank",
        currency: "usd",
        status: "new",
        default_for_currency: true,
        created_at: expect.any(String),
      },
    ]);
    // One row per bank: the link and the external account it became.
    expect(await sys.tdb.db("user_bank_accounts").where({ user_id: user }).count("* as n")).toEqual([
      { n: 1 },
    ]);

    // With a bank attached, Stripe lifts the last requirement and enables payouts.
    await eventually(async () => (await connectAccount(user)).body.payouts_enabled === true, {
      what: "payouts enabled",
    });
    await eventually(async () => (await wallet(sys.url, user)).available === 5_000, { what: "credit" });
    await settleFunds(sys); // settled at Stripe, and Coffer has read it from the stream
    const wd = await requestWithdrawal(sys, user, 1_000);
    expect(wd.status).toBe(201);
    expect((await approve(sys, wd.body.id as string)).status).toBe(200);
    const row = () => sys.tdb.db("withdrawal_requests").where({ id: wd.body.id }).first();
    await eventually(async () => (await row()).payout_id !== null, { what: "payout created" });
    const payout = await control(sys.standin).stripe.payouts.retrieve(
      (await row()).payout_id,
      {},
      { stripeAccount: acct },
    );
    expect(payout).toMatchObject({ amount: 965, currency: "usd", destination: external.id });
    await control(sys.standin).post(`/payouts/${payout.id}/paid`, {});
    await waitForStatus(sys, user, wd.body.id as string, "paid");
    await settledAndBalanced(sys);
  });

  it("a link event applied again attaches nothing twice, even after Stripe's key window", async () => {
    const user = "custom-2";
    const acct = await onboardedCustom(user);
    const { fca } = await linkBank(user, "5555");
    await eventually(async () => (await banks(user)).length === 1, { what: "bank attached" });
    await settledAndBalanced(sys); // nothing else in flight writes the row below
    const [attached] = await banks(user);
    const created = sys.standin
      .events()
      .find((e) => e.type === "financial_connections.account.created" && e.data.object.id === fca)!;
    // As if the worker died after Stripe attached the bank but before the row said so, and the
    // event came back days later: the key has expired and the single-use token is spent.
    await sys.tdb.db("user_bank_accounts").where({ financial_connections_account_id: fca }).update({
      external_account_id: null,
      default_for_currency: false,
      stripe_updated: 0,
    });
    sys.standin.expireIdempotencyKeys();
    await deliver(sys.url, { ...created, id: `${created.id}_again` } as never);
    await settledAndBalanced(sys);
    const atStripe = await control(sys.standin).stripe.accounts.listExternalAccounts(acct);
    expect(atStripe.data.map((b) => b.id)).toEqual([attached!.external_account_id]);
    expect(await banks(user)).toEqual([attached]);
    const attempts = sys.standin
      .requests()
      .filter((r) => r.method === "POST" && r.path === `/v1/accounts/${acct}/external_accounts`);
    expect(attempts.map((r) => r.status)).toEqual([200, 400]);
  });

  it("an Express account made before the switch keeps Stripe managing its bank", async () => {
    // A row of an account Stripe made as Express (CONNECT_ACCOUNT_TYPE was express then).
    const express = await control(sys.standin).stripe.accounts.create({ type: "express" });
    await sys.tdb.db("users").insert({ id: "was-express" }).onConflict("id").ignore();
    await sys.tdb
      .db("stripe_connected_accounts")
      .insert({ user_id: "was-express", account_id: express.id, account_type: "express" });
    const session = await api(sys.url, "POST", "/v1/bank-accounts/session", { user: "was-express" });
    expect(session.status).toBe(409);
    expect(session.body.error.code).toBe("bank_managed_by_stripe");
  });
});
