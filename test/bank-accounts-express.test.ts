import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowDeps } from "../src/flows/deps.js";
import { handleCommand } from "../src/flows/handle-command.js";
import type { StripeEvent } from "../src/standin/index.js";
import { toCommand } from "../src/stripe/commands.js";
import { api } from "./support/api.js";
import { control, processorDeps, rng } from "./support/lifecycles.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { settledAndBalanced } from "./support/withdrawals.js";

/**
 * Express accounts: Stripe collects the bank account in onboarding and the holder changes it in
 * Stripe's Express dashboard (the stand-in's controls). GET /v1/bank-accounts mirrors the
 * connected account's external accounts, and the Financial Connections route refuses Express.
 *
 * Most cases apply the account's events themselves, through the same dispatch a job runs
 * (`handleCommand`), in the orders they choose; the first delivers them as Stripe would.
 */
let sys: System;
let deps: FlowDeps;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
  deps = processorDeps(sys);
});
afterAll(async () => sys?.stop());

async function applyExternalAccountEvents(events: readonly StripeEvent[]): Promise<string[]> {
  const outcomes: string[] = [];
  for (const e of events) {
    const cmd = toCommand(e as unknown as Stripe.Event);
    if (cmd.kind !== "sync_external_account") throw new Error(`${e.type} is not an external account event`);
    outcomes.push(await handleCommand(deps, cmd, { eventId: e.id, log: deps.log }));
  }
  return outcomes;
}

const banks = async (user: string) =>
  (await api(sys.url, "GET", "/v1/bank-accounts", { user })).body.data as Array<Record<string, unknown>>;
const externalEvents = (account: string, since: number) =>
  sys.standin
    .events(since)
    .filter((e) => e.account === account && e.type.startsWith("account.external_account."));

/** An onboarded Express user, whose onboarding bank is mirrored (through account.updated). */
async function onboarded(user: string): Promise<{ account: string; first: string }> {
  sys.standin.setWebhook(`${sys.url}/webhooks/stripe`);
  const { account_id: account } = (await api(sys.url, "POST", "/v1/connect/account", { user })).body;
  await control(sys.standin).post(`/accounts/${account}/enable`, {});
  await eventually(async () => (await banks(user)).length === 1, { what: "onboarding bank mirrored" });
  await settledAndBalanced(sys);
  // From here the test alone applies the account's events, in the order it chooses.
  sys.standin.setWebhook(undefined);
  return { account, first: (await banks(user))[0]!.external_account_id as string };
}

/** What Stripe says the account's bank accounts are, in the shape GET /v1/bank-accounts shows. */
async function atStripe(account: string) {
  const list = await control(sys.standin).stripe.accounts.listExternalAccounts(account, {
    object: "bank_account",
  });
  return list.data
    .map((b) => b as Stripe.BankAccount)
    .map((b) => ({
      external_account_id: b.id,
      last4: b.last4,
      status: b.status,
      default: b.default_for_currency,
    }))
    .sort((a, b) => a.external_account_id.localeCompare(b.external_account_id));
}
async function mirrored(user: string) {
  return (await banks(user))
    .map((b) => ({
      external_account_id: b.external_account_id,
      last4: b.last4,
      status: b.status,
      default: b.default_for_currency,
    }))
    .sort((a, b) => String(a.external_account_id).localeCompare(String(b.external_account_id)));
}

describe("Express: GET /v1/bank-accounts mirrors the connected account's external accounts", () => {
  it("a bank account the holder adds in Stripe's dashboard shows up, delivered by webhook", async () => {
    const user = "express-webhook";
    const { account } = await onboarded(user);
    sys.standin.setWebhook(`${sys.url}/webhooks/stripe`);
    await control(sys.standin).post(`/accounts/${account}/external_accounts`, {});
    await eventually(async () => (await banks(user)).length === 2, { what: "the new bank mirrored" });
    await settledAndBalanced(sys);
    const events = await sys.tdb
      .db("stripe_webhook_events")
      .where({ type: "account.external_account.created" });
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.status === "processed")).toBe(true);
    sys.standin.setWebhook(undefined);
  });

  it("an account added, updated and deleted at Stripe shows, changes and goes; the session route answers 409", async () => {
    const user = "express-1";
    const { account, first } = await onboarded(user);
    expect(await banks(user)).toEqual([
      expect.objectContaining({
        external_account_id: first,
        last4: "6789",
        currency: "usd",
        default_for_currency: true,
      }),
    ]);

    const since = sys.standin.eventCount();
    // The holder adds a second bank in the Express dashboard and makes it the default...
    const added = await control(sys.standin).post(`/accounts/${account}/external_accounts`, {
      bank_name: "Chase",
      last4: "1111",
    });
    // ...their bank reports a problem with it...
    await control(sys.standin).post(`/accounts/${account}/external_accounts/update`, {
      id: added.id,
      status: "verification_failed",
    });
    // ...and they remove the first one.
    await control(sys.standin).post(`/accounts/${account}/external_accounts/delete`, { id: first });
    const events = externalEvents(account, since);
    expect(events.map((e) => e.type)).toEqual([
      "account.external_account.created",
      "account.external_account.updated", // the first loses its default
      "account.external_account.updated", // verification_failed
      "account.external_account.deleted",
    ]);
    await applyExternalAccountEvents(events);

    expect(await banks(user)).toEqual([
      {
        id: expect.stringMatching(/^ba_/),
        external_account_id: added.id,
        financial_connections_account_id: null,
        last4: "1111",
        bank_name: "Chase",
        currency: "usd",
        status: "verification_failed",
        default_for_currency: true,
        created_at: expect.any(String),
      },
    ]);
    // The deleted one is kept, marked, and is nobody's default.
    const gone = await sys.tdb.db("user_bank_accounts").where({ external_account_id: first }).first();
    expect(gone).toMatchObject({ status: "deleted", default_for_currency: false });
    expect(await mirrored(user)).toEqual(await atStripe(account));

    const session = await api(sys.url, "POST", "/v1/bank-accounts/session", { user });
    expect(session.status).toBe(409);
    expect(session.body.error).toMatchObject({ code: "bank_managed_by_stripe" });
    expect(session.body.error.message).toMatch(/account_onboarding.*Express dashboard/);
    await settledAndBalanced(sys);
  });

  it("a late, older event changes nothing, and a deleted account never comes back", async () => {
    const user = "express-2";
    const { account, first } = await onboarded(user);
    await new Promise((r) => setTimeout(r, 1_100)); // a second after the onboarding state was mirrored
    const since = sys.standin.eventCount();
    await control(sys.standin).post(`/accounts/${account}/external_accounts/update`, {
      id: first,
      status: "errored",
    });
    const [errored] = externalEvents(account, since);
    const variant = (suffix: string, over: Partial<StripeEvent>, status = "errored"): StripeEvent => {
      const e = structuredClone({ ...errored!, id: `${errored!.id}_${suffix}`, ...over });
      e.data.object.status = status;
      return e;
    };
    // Same second, other word: which came last cannot be told, so Stripe is asked (it says errored).
    const tie = variant("tie", {}, "new");
    expect(await applyExternalAccountEvents([errored!, tie])).toEqual([
      "external_account_applied",
      "refetched: external_accounts_mirrored_1",
    ]);
    expect((await banks(user))[0]).toMatchObject({ status: "errored" });
    const fixed = variant("fix", { created: errored!.created + 5 }, "new");
    const older = variant("old", { created: errored!.created - 60 });
    expect(await applyExternalAccountEvents([fixed, errored!, older])).toEqual([
      "external_account_applied",
      "external_account_stale",
      "external_account_stale",
    ]);
    expect((await banks(user))[0]).toMatchObject({ status: "new" });

    const deleted = variant(
      "del",
      { type: "account.external_account.deleted", created: fixed.created + 1 },
      "new",
    );
    const created = variant(
      "new",
      { type: "account.external_account.created", created: fixed.created + 9 },
      "new",
    );
    expect(await applyExternalAccountEvents([deleted, created])).toEqual([
      "external_account_deleted_applied",
      "external_account_already_deleted",
    ]);
    expect(await banks(user)).toEqual([]);
  });

  it("any order with duplicates ends as Stripe's state", async () => {
    const user = "express-3";
    const { account, first } = await onboarded(user);
    const since = sys.standin.eventCount();
    const ctl = control(sys.standin);
    const step = () => new Promise((r) => setTimeout(r, 1_100)); // distinct `created` seconds between steps
    const second = await ctl.post(`/accounts/${account}/external_accounts`, {
      last4: "2222",
      default_for_currency: false,
    });
    await step();
    await ctl.post(`/accounts/${account}/external_accounts/update`, {
      id: second.id,
      default_for_currency: true,
    });
    await step();
    await ctl.post(`/accounts/${account}/external_accounts/update`, { id: first, status: "errored" });
    await step();
    const third = await ctl.post(`/accounts/${account}/external_accounts`, { last4: "3333", replace: true });
    await step();
    // Two switches of the default in one go, most likely within one second: ties to settle.
    await ctl.post(`/accounts/${account}/external_accounts/update`, {
      id: first,
      default_for_currency: true,
    });
    await ctl.post(`/accounts/${account}/external_accounts/update`, {
      id: third.id,
      default_for_currency: true,
    });
    const events = externalEvents(account, since);
    expect(events.length).toBe(11);
    const expected = await atStripe(account);
    expect(expected.map((b) => b.last4)).toEqual(expect.arrayContaining(["6789", "3333"]));

    const random = rng(8);
    for (let run = 0; run < 8; run++) {
      // Each run starts from the mirror onboarding left: only the first bank, as the default.
      await sys.tdb
        .db("user_bank_accounts")
        .where({ user_id: user })
        .whereNot({ external_account_id: first })
        .delete();
      await sys.tdb
        .db("user_bank_accounts")
        .where({ external_account_id: first })
        .update({ status: "new", default_for_currency: true, stripe_updated: events[0]!.created - 1 });
      const shuffled = [...events, ...events.filter(() => random() < 0.3)].sort(() => random() - 0.5);
      const order = run === 0 ? [...events].reverse() : shuffled;
      await applyExternalAccountEvents(order);
      expect(await mirrored(user), `run ${run}: ${order.map((e) => e.type).join(", ")}`).toEqual(expected);
    }
  });
});
