import { randomUUID } from "node:crypto";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import { standinControl, stripeFailure, stripeFor } from "./support/stripe-client.js";
import type { Standin, StripeEvent } from "../src/standin/index.js";

/**
 * Connected accounts' external accounts at the stand-in, as strict as Stripe: where payouts go,
 * who may change them (the platform only where it collects requirements, i.e. Custom), the
 * Connect events every change sends, and Financial Connections' bank-account token.
 */
let standin: Standin;
let stripe: Stripe;
beforeAll(async () => {
  standin = await startStandin();
  stripe = stripeFor(standin);
});
afterAll(() => standin.close());

const control = <T = Record<string, unknown>>(path: string, body?: unknown) =>
  standinControl<T>(standin.url, path, body, "POST");

async function eventsOf(act: () => Promise<unknown>): Promise<StripeEvent[]> {
  const before = standin.eventCount();
  await act();
  return standin.events(before);
}
const types = (events: StripeEvent[]) => events.map((e) => e.type);

/** A connected account that finished onboarding. */
async function onboarded(type: "express" | "custom"): Promise<string> {
  const account = await stripe.accounts.create({
    type,
    capabilities: { transfers: { requested: true } },
    metadata: { user_id: `u_${randomUUID()}` },
  });
  await control(`/accounts/${account.id}/enable`, {});
  return account.id;
}

/** Settled platform funds transferred to the account, so it can pay out. */
async function fund(account: string, amount: number): Promise<void> {
  await stripe.paymentIntents.create({
    amount: amount * 2,
    currency: "usd",
    payment_method: "pm_card_visa",
    confirm: true,
  });
  await control("/balance/settle");
  await stripe.transfers.create({ amount, currency: "usd", destination: account });
}

/** A Custom account's Financial Connections link, and the token Stripe put on its session. */
async function linkedToken(account: string, last4 = "4321"): Promise<{ token: string; fca: string }> {
  const session = await stripe.financialConnections.sessions.create({
    account_holder: { type: "account", account },
    permissions: ["payment_method"],
  });
  expect(session.bank_account_token).toBeUndefined();
  const link = await control(`/financial_connections/sessions/${session.id}/link`, {
    institution_name: "Chase",
    last4,
  });
  const linked = await stripe.financialConnections.sessions.retrieve(session.id);
  expect(linked.bank_account_token).toMatchObject({
    object: "token",
    type: "bank_account",
    used: false,
    bank_account: {
      object: "bank_account",
      last4,
      bank_name: "Chase",
      currency: "usd",
      routing_number: null,
    },
  });
  return { token: linked.bank_account_token!.id, fca: link.body.id as string };
}

describe("Express: Stripe collects the bank account", () => {
  it("onboarding adds the default one; the platform may read but never change it", async () => {
    const account = await onboarded("express");
    const retrieved = await stripe.accounts.retrieve(account);
    const bank = retrieved.external_accounts?.data[0] as Stripe.BankAccount;
    expect(bank).toMatchObject({ account, currency: "usd", default_for_currency: true, status: "new" });
    const listed = await stripe.accounts.listExternalAccounts(account, { object: "bank_account" });
    expect(listed.data.map((b) => b.id)).toEqual([bank.id]);
    expect((await stripe.accounts.retrieveExternalAccount(account, bank.id)).id).toBe(bank.id);
    expect(await stripeFailure(stripe.accounts.retrieveExternalAccount(account, "ba_nope"))).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
    });

    const refusals = await Promise.all([
      stripeFailure(stripe.accounts.createExternalAccount(account, { external_account: "btok_x" })),
      stripeFailure(stripe.accounts.updateExternalAccount(account, bank.id, { metadata: { a: "b" } })),
      stripeFailure(stripe.accounts.deleteExternalAccount(account, bank.id)),
    ]);
    for (const refused of refusals) {
      expect(refused).toMatchObject({ statusCode: 400, type: "StripeInvalidRequestError" });
      expect(refused.message).toContain("requirement_collection");
    }
  });

  it("the holder replaces the bank in the dashboard: created, the old default updated, then deleted", async () => {
    const account = await onboarded("express");
    const old = (await stripe.accounts.listExternalAccounts(account)).data[0]!;
    const events = await eventsOf(() =>
      control(`/accounts/${account}/external_accounts`, { bank_name: "Chase", last4: "1111", replace: true }),
    );
    expect(types(events)).toEqual([
      "account.external_account.created",
      "account.external_account.updated",
      "account.external_account.deleted",
    ]);
    expect(events.every((e) => e.account === account)).toBe(true);
    const created = events[0]!.data.object;
    expect(created).toMatchObject({ bank_name: "Chase", last4: "1111", default_for_currency: true });
    expect(events[1]).toMatchObject({ data: { object: { id: old.id, default_for_currency: false } } });
    expect(events[1]!.data.previous_attributes).toEqual({ default_for_currency: true });
    expect(events[2]!.data.object.id).toBe(old.id);
    const now = await stripe.accounts.listExternalAccounts(account);
    expect(now.data.map((b) => b.id)).toEqual([created.id]);

    // The default of the default currency cannot go, from the dashboard either.
    const refused = await control(`/accounts/${account}/external_accounts/delete`, { id: created.id });
    expect(refused.status).toBe(400);
    const errored = await eventsOf(() =>
      control(`/accounts/${account}/external_accounts/update`, { id: created.id, status: "errored" }),
    );
    expect(errored.map((e) => [e.type, e.data.previous_attributes])).toEqual([
      ["account.external_account.updated", { status: "new" }],
    ]);
  });
});

describe("Custom: the platform attaches the bank account", () => {
  it("a Custom account must request capabilities and has no payouts until a bank account is attached", async () => {
    const refused = await stripeFailure(stripe.accounts.create({ type: "custom" }));
    expect(refused).toMatchObject({ statusCode: 400, param: "capabilities" });
    const account = await onboarded("custom");
    const retrieved = await stripe.accounts.retrieve(account);
    expect(retrieved.controller?.requirement_collection).toBe("application");
    expect(retrieved).toMatchObject({ payouts_enabled: false, details_submitted: true });
    expect(retrieved.requirements?.currently_due).toEqual(["external_account"]);
    expect(retrieved.external_accounts?.data).toEqual([]);
  });

  it("the Financial Connections token becomes the default external account, and payouts go there", async () => {
    const account = await onboarded("custom");
    const { token } = await linkedToken(account);
    let bank: Stripe.ExternalAccount | undefined;
    const events = await eventsOf(async () => {
      bank = await stripe.accounts.createExternalAccount(account, {
        external_account: token,
        default_for_currency: true,
        metadata: { financial_connections_account: "fca_x" },
      });
    });
    expect(bank).toMatchObject({
      object: "bank_account",
      account,
      default_for_currency: true,
      last4: "4321",
    });
    expect(types(events)).toEqual(["account.external_account.created", "account.updated"]);
    expect(events.every((e) => e.account === account)).toBe(true);
    expect(events[0]!.data.object).toMatchObject({ metadata: { financial_connections_account: "fca_x" } });
    expect(events[1]!.data.object).toMatchObject({
      payouts_enabled: true,
      requirements: { currently_due: [] },
    });
    const again = await stripeFailure(
      stripe.accounts.createExternalAccount(account, { external_account: token }),
    );
    expect(again).toMatchObject({ statusCode: 400, code: "token_already_used", param: "external_account" });
    const unknown = await stripeFailure(
      stripe.accounts.createExternalAccount(account, { external_account: "btok_no" }),
    );
    expect(unknown).toMatchObject({ statusCode: 404, code: "resource_missing" });

    await fund(account, 3_000);
    const payout = await stripe.payouts.create(
      { amount: 1_000, currency: "usd" },
      { stripeAccount: account },
    );
    expect(payout.destination).toBe(bank!.id);
    const noEur = await stripeFailure(
      stripe.payouts.create({ amount: 100, currency: "eur" }, { stripeAccount: account }),
    );
    expect(noEur).toMatchObject({ statusCode: 400 });
    expect(noEur.message).toBe("Sorry, you don't have any external accounts in that currency (eur).");

    // A second bank account made the default takes the payouts; the first says it lost the default.
    const second = await linkedToken(account, "9999");
    const switched = await eventsOf(() =>
      stripe.accounts.createExternalAccount(account, {
        external_account: second.token,
        default_for_currency: true,
      }),
    );
    expect(switched.map((e) => [e.type, e.data.object.id, e.data.object.default_for_currency])).toEqual([
      ["account.external_account.created", expect.any(String), true],
      ["account.external_account.updated", bank!.id, false],
    ]);
    const next = await stripe.payouts.create({ amount: 500, currency: "usd" }, { stripeAccount: account });
    expect(next.destination).toBe(switched[0]!.data.object.id);
    const named = await stripe.payouts.create(
      { amount: 500, currency: "usd", destination: bank!.id },
      { stripeAccount: account },
    );
    expect(named.destination).toBe(bank!.id);

    // A bounced payout marks its bank account errored; any update by the platform re-enables it.
    await control(`/payouts/${named.id}/fail`, { failure_code: "account_closed" });
    expect((await stripe.accounts.retrieveExternalAccount(account, bank!.id)).status).toBe("errored");
    const reenabled = await stripe.accounts.updateExternalAccount(account, bank!.id, {});
    expect(reenabled.status).toBe("new");

    const defaultGone = await stripeFailure(
      stripe.accounts.deleteExternalAccount(account, switched[0]!.data.object.id as string),
    );
    expect(defaultGone.message).toContain("cannot delete the default bank account");
    const deleted = await eventsOf(async () => {
      expect(await stripe.accounts.deleteExternalAccount(account, bank!.id)).toEqual({
        id: bank!.id,
        object: "bank_account",
        currency: "usd",
        deleted: true,
      });
    });
    expect(types(deleted)).toEqual(["account.external_account.deleted"]);
    expect(deleted[0]?.account).toBe(account);
  });
});
