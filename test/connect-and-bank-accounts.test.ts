import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { api } from "./support/api.js";
import { deliver } from "./support/events.js";
import { control } from "./support/lifecycles.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { settledAndBalanced } from "./support/withdrawals.js";

/** Connect onboarding and bank-account linking, with the stand-in as Stripe. */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
});
afterAll(async () => sys?.stop());

const account = (user: string) => api(sys.url, "GET", "/v1/connect/account", { user });

describe("Connect onboarding", () => {
  it("answers 404 before onboarding, then creates one account however many times it is asked", async () => {
    expect((await account("conn-1")).status).toBe(404);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => api(sys.url, "POST", "/v1/connect/account", { user: "conn-1" })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const ids = new Set(results.map((r) => r.body.account_id as string));
    expect(ids.size).toBe(1);
    expect(results[0]!.body.onboarding_url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/_standin\/onboarding\/acct_/,
    );
    const accounts = await control(sys.standin).stripe.accounts.list({ limit: 100 });
    expect(accounts.data.filter((a) => a.metadata?.user_id === "conn-1")).toHaveLength(1);
    expect((await account("conn-1")).body).toEqual({
      account_id: [...ids][0],
      charges_enabled: false,
      payouts_enabled: false,
      requirements_due: expect.arrayContaining(["external_account"]),
    });
  });

  it("follows account.updated, and a stale event never overwrites newer state", async () => {
    const { account_id: acct } = (await api(sys.url, "POST", "/v1/connect/account", { user: "conn-2" })).body;
    sys.standin.setWebhook(undefined);
    const ctl = control(sys.standin);
    await ctl.post(`/accounts/${acct}/enable`, {});
    const enabled = sys.standin
      .events()
      .filter((e) => e.type === "account.updated" && e.account === acct)
      .at(-1)!;
    expect((await deliver(sys.url, enabled as never)).status).toBe(200);
    await eventually(async () => (await account("conn-2")).body.payouts_enabled === true, {
      what: "enabled",
    });

    // An older account.updated (say, from before onboarding finished) arrives late.
    const stale = { ...enabled, id: `${enabled.id}old`, created: enabled.created - 3_600 };
    await ctl.post(`/accounts/${acct}/require`, { currently_due: ["individual.verification.document"] });
    expect((await deliver(sys.url, stale as never)).status).toBe(200);
    await settledAndBalanced(sys);
    // The stale event re-fetched the account, but its age kept it from being applied.
    expect((await account("conn-2")).body.payouts_enabled).toBe(true);
    const fresh = sys.standin
      .events()
      .filter((e) => e.type === "account.updated" && e.account === acct)
      .at(-1)!;
    await deliver(sys.url, fresh as never);
    await eventually(async () => (await account("conn-2")).body.payouts_enabled === false, {
      what: "requirements applied",
    });
    expect((await account("conn-2")).body.requirements_due).toEqual(["individual.verification.document"]);
  });
});

describe("CONNECT_ACCOUNT_TYPE", () => {
  const env = { NODE_ENV: "test", AUTH_JWT_SECRET: "a-secret-of-16-chars" };
  it("is express by default, may be custom, and anything else stops startup", () => {
    expect(loadConfig(env).CONNECT_ACCOUNT_TYPE).toBe("express");
    expect(loadConfig({ ...env, CONNECT_ACCOUNT_TYPE: "custom" }).CONNECT_ACCOUNT_TYPE).toBe("custom");
    expect(() => loadConfig({ ...env, CONNECT_ACCOUNT_TYPE: "standard" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, CONNECT_ACCOUNT_TYPE: "standard" })).toThrow(/CONNECT_ACCOUNT_TYPE/);
  });
});

describe("bank accounts", () => {
  it("needs a connected account first", async () => {
    const res = await api(sys.url, "POST", "/v1/bank-accounts/session", { user: "no-acct" });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("connect_account_required");
  });

  // An Express user's Financial Connections link never received a payout (payouts go to the
  // external account Stripe collected in onboarding), so the session route now refuses them.
  // Custom accounts link through it: test/bank-accounts-custom.test.ts.
  it("shows the bank account Express onboarding collected, and refuses a Financial Connections session", async () => {
    sys.standin.setWebhook(`${sys.url}/webhooks/stripe`, "whsec_test_coffer_secret");
    const { account_id: acct } = (await api(sys.url, "POST", "/v1/connect/account", { user: "bank-1" })).body;
    await control(sys.standin).post(`/accounts/${acct}/enable`, {});
    await eventually(
      async () => (await api(sys.url, "GET", "/v1/bank-accounts", { user: "bank-1" })).body.data.length === 1,
      { what: "mirrored" },
    );
    const bank = (await control(sys.standin).stripe.accounts.retrieve(acct)).external_accounts!.data[0]!;
    const list = await api(sys.url, "GET", "/v1/bank-accounts", { user: "bank-1" });
    expect(list.body).toEqual({
      data: [
        {
          id: expect.stringMatching(/^ba_/),
          external_account_id: bank.id,
          financial_connections_account_id: null,
          last4: "6789",
          bank_name: "STRIPE TEST BANK",
          currency: "usd",
          status: "new",
          default_for_currency: true,
          created_at: expect.any(String),
        },
      ],
      has_more: false,
    });
    const stored = await sys.tdb.db("user_bank_accounts").where({ user_id: "bank-1" }).first();
    expect(stored.account_number_encrypted).toBeNull();
    expect(stored.routing_number_encrypted).toBeNull();
    expect((await api(sys.url, "GET", "/v1/bank-accounts", { user: "someone-else" })).body.data).toEqual([]);

    const session = await api(sys.url, "POST", "/v1/bank-accounts/session", { user: "bank-1" });
    expect(session.status).toBe(409);
    expect(session.body.error.code).toBe("bank_managed_by_stripe");
    expect(session.body.error.message).toContain("account_onboarding");
    await settledAndBalanced(sys);
  });
});
