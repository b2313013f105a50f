import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import { standinControl, stripeFailure, stripeFor } from "./support/stripe-client.js";
import type { Standin, StripeEvent } from "../src/standin/index.js";

let standin: Standin;
let stripe: Stripe;

beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

/** A control call (Stripe's side of the lifecycle): status and JSON body. */
const control = <T = Record<string, unknown>>(path: string, body?: unknown, method = "POST") =>
  standinControl<T>(standin.url, path, body, method);

/** Runs `act` and returns the events it caused, oldest first. */
async function eventsOf(act: () => Promise<unknown>): Promise<StripeEvent[]> {
  const before = standin.eventCount();
  await act();
  return standin.events(before);
}
const types = (events: StripeEvent[]) => events.map((e) => e.type);

async function expressAccount(): Promise<Stripe.Account> {
  return stripe.accounts.create({
    type: "express",
    capabilities: { transfers: { requested: true } },
    metadata: { user_id: `u_${randomUUID()}` },
  });
}

/** An Express account that finished onboarding: payouts enabled, a bank account on file. */
async function onboarded(): Promise<string> {
  const account = await expressAccount();
  expect((await control(`/accounts/${account.id}/enable`, {})).status).toBe(200);
  return account.id;
}

/** Card funds the platform can transfer now: a paid PaymentIntent, settled. */
async function fundPlatform(amount: number, currency = "usd"): Promise<void> {
  await stripe.paymentIntents.create({
    amount: amount * 2,
    currency,
    payment_method: "pm_card_visa",
    confirm: true,
  });
  expect((await control("/balance/settle")).status).toBe(200);
}

async function available(currency: string, stripeAccount?: string): Promise<number> {
  const balance = await stripe.balance.retrieve({}, stripeAccount ? { stripeAccount } : {});
  return balance.available.find((b) => b.currency === currency)?.amount ?? 0;
}

/** A transfer of `amount` usd to a freshly onboarded account. */
async function transferred(amount: number, group = `wd_${randomUUID()}`) {
  const account = await onboarded();
  await fundPlatform(amount);
  const transfer = await stripe.transfers.create({
    amount,
    currency: "usd",
    destination: account,
    transfer_group: group,
    metadata: { withdrawal_id: group },
  });
  return { account, transfer };
}

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
}

describe("accounts and onboarding", () => {
  it("creates a restricted Express account once per idempotency key, without an event", async () => {
    const key = randomUUID();
    const params: Stripe.AccountCreateParams = {
      type: "express",
      country: "US",
      email: "jo@example.com",
      capabilities: { transfers: { requested: true } },
      metadata: { user_id: "u_1" },
    };
    let first: Stripe.Account | undefined;
    const events = await eventsOf(async () => {
      first = await stripe.accounts.create(params, { idempotencyKey: key });
    });
    const again = await stripe.accounts.create(params, { idempotencyKey: key });
    expect(first?.id).toMatch(/^acct_/);
    expect(again.id).toBe(first?.id);
    expect(events).toEqual([]);
    const account = await stripe.accounts.retrieve(again.id);
    expect(account).toMatchObject({
      object: "account",
      type: "express",
      country: "US",
      default_currency: "usd",
      email: "jo@example.com",
      charges_enabled: false,
      payouts_enabled: false,
      details_submitted: false,
      capabilities: { transfers: "inactive" },
      metadata: { user_id: "u_1" },
      requirements: { disabled_reason: "requirements.past_due" },
    });
    expect(account.requirements?.currently_due).toEqual(
      expect.arrayContaining(["external_account", "individual.first_name", "tos_acceptance.date"]),
    );
    expect((await stripe.accounts.list({ limit: 100 })).data.map((a) => a.id)).toContain(account.id);
    const missing = await stripeFailure(stripe.accounts.retrieve("acct_missing"));
    expect(missing).toMatchObject({ statusCode: 404, code: "resource_missing" });
  });

  it("hands out an account link to the simulated onboarding page; unknown accounts are 404", async () => {
    const account = await expressAccount();
    const link = await stripe.accountLinks.create({
      account: account.id,
      refresh_url: "https://coffer.example/refresh",
      return_url: "https://coffer.example/return",
      type: "account_onboarding",
    });
    expect(link.object).toBe("account_link");
    expect(link.expires_at - link.created).toBe(300);
    const url = new URL(link.url);
    expect(url.pathname).toBe(`/_standin/onboarding/${account.id}`);
    expect(url.searchParams.get("return_url")).toBe("https://coffer.example/return");
    const page = await fetch(`${standin.url}${url.pathname}${url.search}`);
    expect(page.status).toBe(200);
    const body = (await page.json()) as { account: string; message: string };
    expect(body.account).toBe(account.id);
    expect(body.message).toContain(`/_standin/accounts/${account.id}/enable`);

    const missing = await stripeFailure(
      stripe.accountLinks.create({ account: "acct_nope", type: "account_onboarding" }),
    );
    expect(missing).toMatchObject({ statusCode: 404, code: "resource_missing", param: "account" });
    expect((await control("/onboarding/acct_nope", undefined, "GET")).status).toBe(404);
  });

  it("enable and require emit account.updated on the connected account, with previous attributes", async () => {
    const { id } = await expressAccount();
    const enabled = await eventsOf(() => control(`/accounts/${id}/enable`, {}));
    // Express onboarding collected the bank account first: a Connect event of its own.
    expect(types(enabled)).toEqual(["account.external_account.created", "account.updated"]);
    const [bankAdded, update] = enabled;
    expect(bankAdded?.account).toBe(id);
    expect(bankAdded?.data.object).toMatchObject({
      object: "bank_account",
      account: id,
      default_for_currency: true,
    });
    expect(update?.account).toBe(id);
    expect(update?.data.object).toMatchObject({
      id,
      charges_enabled: true,
      payouts_enabled: true,
      details_submitted: true,
      capabilities: { transfers: "active" },
      requirements: { currently_due: [], disabled_reason: null },
    });
    expect(update?.data.previous_attributes).toMatchObject({
      charges_enabled: false,
      payouts_enabled: false,
      details_submitted: false,
      requirements: { currently_due: expect.arrayContaining(["external_account"]) },
    });
    const account = await stripe.accounts.retrieve(id);
    const bank = account.external_accounts?.data[0] as Stripe.BankAccount;
    expect(bank).toMatchObject({ object: "bank_account", last4: "6789", routing_number: null });
    // Connect events live on the account: listed with its Stripe-Account header, not the platform's.
    const onAccount = await stripe.events.list({ type: "account.updated" }, { stripeAccount: id });
    expect(onAccount.data.map((e) => e.id)).toEqual([update?.id]);
    expect(await eventsOf(() => control(`/accounts/${id}/enable`, {}))).toEqual([]);

    const due = ["individual.verification.document"];
    const required = await eventsOf(async () => {
      expect((await control(`/accounts/${id}/require`, { currently_due: due })).status).toBe(200);
    });
    expect(types(required)).toEqual(["account.updated"]);
    expect(required[0]?.account).toBe(id);
    expect(required[0]?.data.object).toMatchObject({
      payouts_enabled: false,
      requirements: { currently_due: due },
    });
    expect(required[0]?.data.previous_attributes).toMatchObject({ payouts_enabled: true });
    expect((await stripe.accounts.retrieve(id)).capabilities?.transfers).toBe("inactive");

    expect((await control("/accounts/acct_nope/enable", {})).status).toBe(404);
    expect((await control(`/accounts/${id}/enable`, { payouts_enabled: "yes" })).status).toBe(400);
    expect((await control(`/accounts/${id}/require`, { currently_due: [] })).status).toBe(400);
  });
});

describe("transfers", () => {
  it("refuses balance_insufficient until the card funds settle; the refusal is saved under its key", async () => {
    const account = await onboarded();
    // eur is used by no other test, so nothing else moves this balance.
    const amount = (await available("eur")) + 1000;
    await stripe.paymentIntents.create({
      amount: 2000,
      currency: "eur",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const params = { amount, currency: "eur", destination: account };
    const key = randomUUID();
    const refused = await stripeFailure(stripe.transfers.create(params, { idempotencyKey: key }));
    expect(refused).toMatchObject({ statusCode: 400, code: "balance_insufficient" });
    expect(await available("eur", account)).toBe(0);

    expect((await control("/balance/settle")).status).toBe(200);
    // Stripe saves any result once the endpoint ran: the same key replays the refusal.
    const replayed = await stripeFailure(stripe.transfers.create(params, { idempotencyKey: key }));
    expect(replayed).toMatchObject({ statusCode: 400, code: "balance_insufficient" });
    const transfer = await stripe.transfers.create(params, { idempotencyKey: randomUUID() });
    expect(transfer).toMatchObject({ amount, currency: "eur", destination: account });
    expect(await available("eur", account)).toBe(amount);
    // Before + the charge's net (2000 − 88 fee) − the transfer (before + 1000).
    expect(await available("eur")).toBe(912);
  });

  it("refuses unknown destinations and accounts that cannot receive transfers", async () => {
    await fundPlatform(500);
    const unknown = await stripeFailure(
      stripe.transfers.create({ amount: 100, currency: "usd", destination: "acct_x" }),
    );
    expect(unknown).toMatchObject({ statusCode: 400, code: "resource_missing", param: "destination" });
    expect(unknown.message).toBe("No such destination: 'acct_x'");
    const restricted = await expressAccount();
    const refused = await stripeFailure(
      stripe.transfers.create({ amount: 100, currency: "usd", destination: restricted.id }),
    );
    expect(refused).toMatchObject({ statusCode: 400, code: "insufficient_capabilities_for_transfer" });
    const zero = await stripeFailure(
      stripe.transfers.create({ amount: 0, currency: "usd", destination: restricted.id }),
    );
    expect(zero).toMatchObject({ statusCode: 400, param: "amount" });
  });

  it("creates a transfer with both balance transactions and a platform transfer.created; lists by group", async () => {
    const group = `wd_${randomUUID()}`;
    let made: Awaited<ReturnType<typeof transferred>> | undefined;
    const events = await eventsOf(async () => {
      made = await transferred(1200, group);
    });
    const { account, transfer } = made!;
    expect(transfer).toMatchObject({
      object: "transfer",
      amount: 1200,
      amount_reversed: 0,
      currency: "usd",
      destination: account,
      reversed: false,
      transfer_group: group,
      metadata: { withdrawal_id: group },
      reversals: { object: "list", data: [] },
      livemode: false,
    });
    expect(transfer.id).toMatch(/^tr_/);
    expect(transfer.destination_payment).toMatch(/^py_/);
    const created = events.filter((e) => e.type === "transfer.created");
    expect(created.map((e) => e.data.object.id)).toEqual([transfer.id]);
    expect(created[0]).not.toHaveProperty("account");

    const platformTxn = await stripe.balanceTransactions.retrieve(transfer.balance_transaction as string);
    expect(platformTxn).toMatchObject({ type: "transfer", amount: -1200, net: -1200, status: "available" });
    const onAccount = await stripe.balanceTransactions.list({}, { stripeAccount: account });
    expect(onAccount.data.map((t) => [t.type, t.amount, t.source, t.status])).toEqual([
      ["payment", 1200, transfer.destination_payment, "available"],
    ]);

    const other = await stripe.transfers.create({ amount: 100, currency: "usd", destination: account });
    const byGroup = await stripe.transfers.list({ transfer_group: group, limit: 10 });
    expect(byGroup.data.map((t) => t.id)).toEqual([transfer.id]);
    const byDestination = await stripe.transfers.list({ destination: account });
    expect(byDestination.data.map((t) => t.id)).toEqual([other.id, transfer.id]);
    const expanded = await stripe.transfers.retrieve(transfer.id, {
      expand: ["destination", "balance_transaction"],
    });
    expect(expanded.metadata).toEqual({ withdrawal_id: group });
    expect(expanded.destination).toMatchObject({ object: "account", id: account });
    expect(expanded.balance_transaction).toMatchObject({ object: "balance_transaction", type: "transfer" });
    expect(await stripeFailure(stripe.transfers.retrieve("tr_missing"))).toMatchObject({ statusCode: 404 });
  });

  it("drop_after on POST /v1/transfers: created once, found by transfer_group even after keys expire", async () => {
    const account = await onboarded();
    await fundPlatform(700);
    const group = `wd_${randomUUID()}`;
    const params = { amount: 700, currency: "usd", destination: account, transfer_group: group };
    const key = `${group}:transfer`;
    // times: 2 because stripe-node retries a reset connection once by itself (see standin.test.ts).
    standin.injectFault({ method: "POST", pathPrefix: "/v1/transfers", kind: "drop_after", times: 2 });
    const dropped = await stripeFailure(stripe.transfers.create(params, { idempotencyKey: key }));
    expect(dropped).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const found = await stripe.transfers.list({ transfer_group: group });
    expect(found.data).toHaveLength(1);
    const retried = await stripe.transfers.create(params, { idempotencyKey: key });
    expect(retried.id).toBe(found.data[0]?.id);
    standin.expireIdempotencyKeys();
    expect((await stripe.transfers.list({ transfer_group: group })).data.map((t) => t.id)).toEqual([
      retried.id,
    ]);
    const logged = standin.requests().filter((r) => r.idempotencyKey === key);
    expect(logged.map((r) => [r.dropped ?? false, r.replayed ?? false])).toEqual([
      [true, false],
      [true, true],
      [false, true],
    ]);
  });

  it("reverses partially then fully, moving money back and emitting transfer.reversed each time", async () => {
    const { account, transfer } = await transferred(1000);
    let partial: Stripe.TransferReversal | undefined;
    const first = await eventsOf(async () => {
      partial = await stripe.transfers.createReversal(transfer.id, {
        amount: 400,
        metadata: { why: "test" },
      });
    });
    expect(partial).toMatchObject({ object: "transfer_reversal", amount: 400, transfer: transfer.id });
    expect(partial?.destination_payment_refund).toMatch(/^pyr_/);
    expect(types(first)).toEqual(["transfer.reversed"]);
    expect(first[0]).not.toHaveProperty("account");
    expect(first[0]?.data.object).toMatchObject({ id: transfer.id, amount_reversed: 400, reversed: false });
    expect(first[0]?.data.previous_attributes).toEqual({ amount_reversed: 0 });
    expect(await available("usd", account)).toBe(600);
    const refundTxn = await stripe.balanceTransactions.retrieve(partial?.balance_transaction as string);
    expect(refundTxn).toMatchObject({ type: "transfer_refund", amount: 400, status: "available" });

    const rest = await eventsOf(() =>
      stripe.transfers.createReversal(transfer.id, {}, { idempotencyKey: "rev-1" }),
    );
    expect(rest[0]?.data.object).toMatchObject({ amount_reversed: 1000, reversed: true });
    expect(rest[0]?.data.previous_attributes).toEqual({ amount_reversed: 400, reversed: false });
    expect(await available("usd", account)).toBe(0);
    const after = await stripe.transfers.retrieve(transfer.id);
    expect(after.reversals.data.map((r) => r.amount)).toEqual([600, 400]);
    expect((await stripe.transfers.listReversals(transfer.id)).data).toHaveLength(2);
    const again = await stripeFailure(stripe.transfers.createReversal(transfer.id));
    expect(again).toMatchObject({ statusCode: 400 });
    expect(again.message).toContain("already been fully reversed");
  });

  it("the reverse control refuses while the money is paid out, then reverses once the payout failed", async () => {
    const { account, transfer } = await transferred(1500);
    const payout = await stripe.payouts.create({ amount: 1500, currency: "usd" }, { stripeAccount: account });
    const blocked = await control<{ error: { code: string } }>(`/transfers/${transfer.id}/reverse`);
    expect(blocked).toMatchObject({ status: 400, body: { error: { code: "balance_insufficient" } } });
    expect((await control(`/payouts/${payout.id}/fail`, {})).status).toBe(200);
    const events = await eventsOf(() => control(`/transfers/${transfer.id}/reverse`));
    expect(types(events)).toEqual(["transfer.reversed"]);
    expect(events[0]).not.toHaveProperty("account");
    expect(events[0]?.data.object).toMatchObject({ id: transfer.id, amount_reversed: 1500, reversed: true });
    expect((await control(`/transfers/${transfer.id}/reverse`)).status).toBe(400);
    expect((await control("/transfers/tr_missing/reverse")).status).toBe(404);
  });

  it("the reverse control can leave the account negative, as Stripe does with Connected Reserves", async () => {
    const { account, transfer } = await transferred(1100);
    await stripe.payouts.create({ amount: 1100, currency: "usd" }, { stripeAccount: account });
    const reply = await control(`/transfers/${transfer.id}/reverse`, { allow_negative: true });
    expect(reply).toMatchObject({ status: 200, body: { object: "transfer_reversal", amount: 1100 } });
    expect(await available("usd", account)).toBe(-1100);
    expect((await stripe.transfers.retrieve(transfer.id)).reversed).toBe(true);
  });
});

describe("payouts on connected accounts", () => {
  it("pays out with Stripe-Account: pending, idempotent, listed by metadata, paid by the control", async () => {
    const { account, transfer } = await transferred(2000);
    const key = randomUUID();
    const params = { amount: 2000, currency: "usd", metadata: { withdrawal_id: "wd_1" } };
    let payout: Stripe.Payout | undefined;
    const created = await eventsOf(async () => {
      payout = await stripe.payouts.create(params, { stripeAccount: account, idempotencyKey: key });
    });
    const bank = (await stripe.accounts.retrieve(account)).external_accounts?.data[0]?.id;
    expect(payout).toMatchObject({
      object: "payout",
      amount: 2000,
      currency: "usd",
      status: "pending",
      method: "standard",
      destination: bank,
      metadata: { withdrawal_id: "wd_1" },
    });
    expect(payout!.arrival_date).toBeGreaterThan(payout!.created);
    expect(types(created)).toEqual(["payout.created"]);
    expect(created[0]?.account).toBe(account);
    const again = await stripe.payouts.create(params, { stripeAccount: account, idempotencyKey: key });
    expect(again.id).toBe(payout?.id);
    expect(await available("usd", account)).toBe(0);
    const txn = await stripe.balanceTransactions.retrieve(
      payout?.balance_transaction as string,
      {},
      {
        stripeAccount: account,
      },
    );
    expect(txn).toMatchObject({ type: "payout", amount: -2000, source: payout?.id });

    const since = transfer.created - 60;
    const listed = await stripe.payouts.list(
      { limit: 100, created: { gte: since } },
      { stripeAccount: account },
    );
    expect(listed.data.filter((p) => p.metadata?.withdrawal_id === "wd_1").map((p) => p.id)).toEqual([
      payout?.id,
    ]);
    expect((await stripe.payouts.list({ limit: 10 })).data.map((p) => p.id)).not.toContain(payout?.id);
    const onPlatform = await stripeFailure(stripe.payouts.retrieve(payout!.id));
    expect(onPlatform).toMatchObject({ statusCode: 404, code: "resource_missing" });

    const paid = await eventsOf(() => control(`/payouts/${payout!.id}/paid`));
    expect(types(paid)).toEqual(["payout.paid"]);
    expect(paid[0]?.account).toBe(account);
    expect(paid[0]?.data.object).toMatchObject({ id: payout?.id, status: "paid" });
    expect(paid[0]?.data.previous_attributes).toEqual({ status: "pending" });
    const retrieved = await stripe.payouts.retrieve(payout!.id, {}, { stripeAccount: account });
    expect(retrieved.status).toBe("paid");
    expect((await control(`/payouts/${payout!.id}/paid`)).status).toBe(400);
    expect((await control(`/payouts/${payout!.id}/fail`, {})).status).toBe(400);
    expect((await control("/payouts/po_missing/paid")).status).toBe(404);
  });

  it("a failed payout returns the money to the account and emits payout.failed with the account", async () => {
    const { account } = await transferred(900);
    const payout = await stripe.payouts.create({ amount: 900, currency: "usd" }, { stripeAccount: account });
    const failed = await eventsOf(async () => {
      const reply = await control(`/payouts/${payout.id}/fail`, { failure_code: "no_account" });
      expect(reply).toMatchObject({ status: 200, body: { status: "failed", failure_code: "no_account" } });
    });
    // Stripe marks the bank account the payout bounced from `errored`.
    expect(types(failed)).toEqual(["payout.failed", "account.external_account.updated"]);
    expect(failed[1]).toMatchObject({
      account,
      data: { object: { id: payout.destination, status: "errored" } },
    });
    expect(failed[1]?.data.previous_attributes).toEqual({ status: "new" });
    expect(failed[0]?.account).toBe(account);
    expect(failed[0]?.data.object).toMatchObject({ status: "failed", failure_code: "no_account" });
    expect(failed[0]?.data.object.failure_message).toMatch(/No bank account could be located/);
    expect(await available("usd", account)).toBe(900);
    const after = await stripe.payouts.retrieve(payout.id, {}, { stripeAccount: account });
    const back = await stripe.balanceTransactions.retrieve(
      after.failure_balance_transaction as string,
      {},
      {
        stripeAccount: account,
      },
    );
    expect(back).toMatchObject({ type: "payout_failure", amount: 900, status: "available" });
    expect((await control(`/payouts/${payout.id}/fail`, { failure_code: "bogus" })).status).toBe(400);
  });

  it("refuses payouts beyond the balance, from restricted accounts and for unknown accounts", async () => {
    const account = await onboarded();
    const broke = await stripeFailure(
      stripe.payouts.create({ amount: 100, currency: "usd" }, { stripeAccount: account }),
    );
    expect(broke).toMatchObject({ statusCode: 400, code: "balance_insufficient" });
    const restricted = await expressAccount();
    const notAllowed = await stripeFailure(
      stripe.payouts.create({ amount: 100, currency: "usd" }, { stripeAccount: restricted.id }),
    );
    expect(notAllowed).toMatchObject({ statusCode: 400, code: "payouts_not_allowed" });
    const unknown = await stripeFailure(
      stripe.payouts.create({ amount: 100, currency: "usd" }, { stripeAccount: "acct_unknown" }),
    );
    expect(unknown).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect(unknown).toMatchObject({ statusCode: 403, code: "account_invalid" });
  });

  it("faults hit Connect paths, with or without Stripe-Account; error faults are not saved", async () => {
    const { account } = await transferred(800);
    const key = randomUUID();
    const params = { amount: 300, currency: "usd", metadata: { withdrawal_id: key } };
    standin.injectFault({ method: "POST", pathPrefix: "/v1/payouts", kind: "429" });
    const limited = await stripeFailure(
      stripe.payouts.create(params, { stripeAccount: account, idempotencyKey: key }),
    );
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    standin.injectFault({ method: "POST", pathPrefix: "/v1/payouts", kind: "drop_after", times: 2 });
    const dropped = await stripeFailure(
      stripe.payouts.create(params, { stripeAccount: account, idempotencyKey: key }),
    );
    expect(dropped).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const listed = await stripe.payouts.list({ limit: 100 }, { stripeAccount: account });
    expect(listed.data.filter((p) => p.metadata?.withdrawal_id === key)).toHaveLength(1);
    expect(await available("usd", account)).toBe(500);

    standin.injectFault({ pathPrefix: "/v1/accounts", kind: "500" });
    expect(await stripeFailure(stripe.accounts.retrieve(account))).toBeInstanceOf(
      Stripe.errors.StripeAPIError,
    );
    standin.injectFault({ method: "POST", pathPrefix: "/v1/transfers", kind: "balance_insufficient" });
    const faulted = await stripeFailure(
      stripe.transfers.create({ amount: 1, currency: "usd", destination: account }),
    );
    expect(faulted).toMatchObject({ statusCode: 400, code: "balance_insufficient" });
  });
});

describe("financial connections", () => {
  it("links a bank account to a session: fca created, event sent, no account or routing numbers", async () => {
    const account = await expressAccount();
    const session = await stripe.financialConnections.sessions.create({
      account_holder: { type: "account", account: account.id },
      permissions: ["payment_method", "balances"],
      filters: { countries: ["US"] } as Stripe.FinancialConnections.SessionCreateParams.Filters,
    });
    expect(session).toMatchObject({
      object: "financial_connections.session",
      account_holder: { type: "account", account: account.id },
      permissions: ["payment_method", "balances"],
      accounts: { object: "list", data: [] },
      livemode: false,
    });
    expect(session.id).toMatch(/^fcsess_/);
    expect(session.client_secret).toMatch(/^fcsess_client_secret_/);

    let linked: { status: number; body: Record<string, unknown> } | undefined;
    const events = await eventsOf(async () => {
      linked = await control(`/financial_connections/sessions/${session.id}/link`, {
        institution_name: "Chase",
        last4: "4321",
      });
    });
    expect(linked?.status).toBe(200);
    const fcaId = linked?.body.id as string;
    expect(fcaId).toMatch(/^fca_/);
    expect(types(events)).toEqual(["financial_connections.account.created"]);
    expect(events[0]).not.toHaveProperty("account");
    expect(events[0]?.data.object).toMatchObject({ id: fcaId, last4: "4321" });

    const fca = await stripe.financialConnections.accounts.retrieve(fcaId);
    expect(fca).toMatchObject({
      object: "financial_connections.account",
      institution_name: "Chase",
      last4: "4321",
      status: "active",
      category: "cash",
      subcategory: "checking",
      account_holder: { type: "account", account: account.id },
      account_numbers: null,
    });
    for (const json of [fca, events[0]?.data.object]) {
      const keys = keysOf(json);
      expect(keys).not.toContain("routing_number");
      expect(keys).not.toContain("account_number");
    }
    const again = await stripe.financialConnections.sessions.retrieve(session.id);
    expect(again.accounts.data.map((a) => a.id)).toEqual([fcaId]);
    const listed = await stripe.financialConnections.accounts.list({ session: session.id });
    expect(listed.data.map((a) => a.id)).toEqual([fcaId]);
  });

  it("takes customer holders, refuses bad input and answers unknown ids with 404", async () => {
    const forCustomer = await stripe.financialConnections.sessions.create({
      account_holder: { type: "customer", customer: "cus_123" },
      permissions: ["payment_method"],
    });
    expect(forCustomer.account_holder).toEqual({ type: "customer", customer: "cus_123" });
    const noHolder = await stripeFailure(
      stripe.financialConnections.sessions.create({
        account_holder: { type: "account", account: "acct_missing" },
        permissions: ["payment_method"],
      }),
    );
    expect(noHolder).toMatchObject({ statusCode: 404, code: "resource_missing" });
    const badPermission = await stripeFailure(
      stripe.financialConnections.sessions.create({
        account_holder: { type: "customer", customer: "cus_123" },
        permissions: ["everything"],
      }),
    );
    expect(badPermission).toMatchObject({ statusCode: 400, param: "permissions" });
    const link = `/financial_connections/sessions/${forCustomer.id}/link`;
    expect((await control(link, { last4: "12" })).status).toBe(400);
    expect((await control("/financial_connections/sessions/fcsess_missing/link", {})).status).toBe(404);
    const missingFca = await stripeFailure(stripe.financialConnections.accounts.retrieve("fca_missing"));
    expect(missingFca).toMatchObject({ statusCode: 404, code: "resource_missing" });
    const missingSession = await stripeFailure(
      stripe.financialConnections.sessions.retrieve("fcsess_missing"),
    );
    expect(missingSession).toMatchObject({ statusCode: 404, code: "resource_missing" });
  });
});
