import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../src/db/knex.js";
import { api, wallet } from "./support/api.js";
import { startSystem, type System } from "./support/system.js";
import { readyUser, requestWithdrawal, settledAndBalanced } from "./support/withdrawals.js";

/** Who may touch a withdrawal, and what a bad request changes: nothing. */
/** What Coffer asked Stripe to do; the workers' passes over the balance stream only read. */
const stripeWrites = () => sys.standin.requests().filter((r) => r.method !== "GET").length;
let sys: System;
let mine: string;
beforeAll(async () => {
  sys = await startSystem({
    workers: 1,
    env: {
      WITHDRAWAL_FEES: JSON.stringify({
        default: { fixed_minor: 25, bps: 100, min_minor: 500 },
        eur: { fixed_minor: 900, bps: 2000, min_minor: 500 },
      }),
      WALLET_CURRENCIES: "usd,eur,jpy",
    },
  });
  await readyUser(sys, "owner", 5_000);
  mine = (await requestWithdrawal(sys, "owner", 1_000)).body.id as string;
});
afterAll(async () => sys?.stop());

describe("access", () => {
  it.each([
    ["GET", () => `/v1/withdrawals/${mine}`],
    ["POST", () => `/v1/withdrawals/${mine}/cancel`],
  ])("another user gets 404 on %s", async (method, path) => {
    const res = await api(sys.url, method, path(), { user: "intruder" });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });

  it("another user's list does not show it", async () => {
    expect((await api(sys.url, "GET", "/v1/withdrawals", { user: "intruder" })).body.data).toEqual([]);
    expect(
      (await api(sys.url, "GET", "/v1/withdrawals", { user: "owner" })).body.data.map(
        (w: { id: string }) => w.id,
      ),
    ).toEqual([mine]);
  });

  it.each([
    ["GET", "/admin/withdrawals"],
    ["POST", "/admin/withdrawals/wd_x/approve"],
    ["POST", "/admin/withdrawals/wd_x/reject"],
    ["GET", "/admin/ledger/check"],
    ["GET", "/admin/audit-log"],
    ["GET", "/admin/queues"],
  ])("a non-admin gets 403 on %s %s", async (method, path) => {
    const res = await api(sys.url, method, path, {
      user: "owner",
      body: method === "POST" ? { reason: "x" } : undefined,
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("forbidden");
  });

  it("the audit log refuses UPDATE, DELETE and TRUNCATE even for a superuser", async () => {
    await api(sys.url, "POST", `/admin/withdrawals/${mine}/reject`, {
      user: "ops",
      role: "admin",
      body: { reason: "test" },
    });
    // The app runs as coffer_app, which has no UPDATE on the log anyway; the owner is the
    // superuser the trigger has to stop.
    const db = createDb(sys.tdb.ownerUrl, { poolMax: 1 });
    try {
      const su = await db.raw("SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
      expect(su.rows[0].rolsuper).toBe(true);
      for (const sql of [
        "UPDATE admin_audit_log SET reason = 'x'",
        "DELETE FROM admin_audit_log",
        "TRUNCATE admin_audit_log",
      ]) {
        await expect(db.raw(sql)).rejects.toThrow(/append-only/);
      }
      expect(await db("admin_audit_log").where({ target: mine }).pluck("action")).toEqual([
        "withdrawal.reject",
      ]);
    } finally {
      await db.destroy();
    }
  });
});

describe("bad withdrawal requests hold nothing and send nothing to Stripe", () => {
  const cases: Array<[string, { body?: unknown; key?: string | null; user?: string }, number, string]> = [
    ["amount -1", { body: { amount_minor: -1, currency: "usd" } }, 422, "amount_not_positive"],
    ["amount 0", { body: { amount_minor: 0, currency: "usd" } }, 422, "amount_not_positive"],
    ["amount 1.5", { body: { amount_minor: 1.5, currency: "usd" } }, 422, "amount_not_integer"],
    ["amount as a string", { body: { amount_minor: "1000", currency: "usd" } }, 422, "amount_invalid_type"],
    ["amount 1e21", { body: { amount_minor: 1e21, currency: "usd" } }, 422, "amount_too_large"],
    ["amount 2^53", { body: { amount_minor: 2 ** 53, currency: "usd" } }, 422, "amount_too_large"],
    ["amount null", { body: { amount_minor: null, currency: "usd" } }, 422, "amount_invalid_type"],
    ["below min_minor", { body: { amount_minor: 499, currency: "usd" } }, 422, "amount_below_minimum"],
    [
      "a fee that takes it all (eur: 900 + 20%)",
      { body: { amount_minor: 700, currency: "eur" } },
      422,
      "amount_below_fee",
    ],
    ["unknown currency", { body: { amount_minor: 1_000, currency: "xyz" } }, 422, "currency_unknown"],
    ["uppercase currency", { body: { amount_minor: 1_000, currency: "USD" } }, 422, "currency_invalid"],
    [
      "a currency the wallet never held",
      { body: { amount_minor: 1_000, currency: "jpy" } },
      422,
      "currency_mismatch",
    ],
    [
      "client-sent status",
      { body: { amount_minor: 1_000, currency: "usd", status: "approved" } },
      422,
      "unknown_field",
    ],
    [
      "client-sent fee_minor",
      { body: { amount_minor: 1_000, currency: "usd", fee_minor: 0 } },
      422,
      "unknown_field",
    ],
    [
      "client-sent user_id",
      { body: { amount_minor: 1_000, currency: "usd", user_id: "someone" } },
      422,
      "unknown_field",
    ],
    [
      "no Idempotency-Key",
      { body: { amount_minor: 1_000, currency: "usd" }, key: null },
      400,
      "idempotency_key_missing",
    ],
    [
      "more than the balance",
      { body: { amount_minor: 100_000, currency: "usd" } },
      409,
      "insufficient_funds",
    ],
    [
      "payouts not enabled",
      { body: { amount_minor: 1_000, currency: "usd" }, user: "not-onboarded" },
      409,
      "payouts_not_enabled",
    ],
  ];

  it.each(cases)("%s", async (_name, c, status, code) => {
    const user = c.user ?? "owner";
    const before = {
      wallet: await wallet(sys.url, user),
      rows: await sys.tdb.db("withdrawal_requests").count({ n: "*" }).first(),
      stripe: stripeWrites(),
    };
    const headers: Record<string, string> =
      c.key === null ? {} : { "idempotency-key": c.key ?? `bad-${Math.random()}` };
    const res = await api(sys.url, "POST", "/v1/withdrawals", { user, body: c.body, headers });
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
    expect(await wallet(sys.url, user)).toEqual(before.wallet);
    expect(await sys.tdb.db("withdrawal_requests").count({ n: "*" }).first()).toEqual(before.rows);
    expect(stripeWrites()).toBe(before.stripe);
    await settledAndBalanced(sys);
  });

  it("the bank-account session refuses account or routing numbers in its body", async () => {
    const res = await api(sys.url, "POST", "/v1/bank-accounts/session", {
      user: "owner",
      body: { account_number: "000123456789", routing_number: "110000000" },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("unknown_field");
    const cols = await sys.tdb.db.raw(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'user_bank_accounts'",
    );
    expect(
      cols.rows
        .map((r: { column_name: string }) => r.column_name)
        .filter((c: string) => /number/.test(c) && !/encrypted/.test(c)),
    ).toEqual([]);
  });
});
