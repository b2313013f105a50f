import { withAdvisoryLock } from "../../src/db/advisory-lock.js";
import { RECONCILIATION_LOCK } from "../../src/flows/reconcile-run.js";
import { followBalanceStream } from "../../src/flows/reconcile-stream.js";
import { api, pay, topUp, wallet } from "./api.js";
import { control, processorDeps } from "./lifecycles.js";
import { expectInvariants, openEventCount } from "./seed.js";
import { eventually, type System } from "./system.js";
import { WEBHOOK_SECRET } from "./tokens.js";

/**
 * A user who can withdraw: wallet credited through a real top-up, an Express
 * account onboarded (Stripe's side played by the stand-in's control), and the
 * platform's card funds settled at Stripe so a transfer can draw on them.
 */
export async function readyUser(
  sys: System,
  user: string,
  creditMinor: number,
  o: { settle?: boolean } = {},
): Promise<{ accountId: string }> {
  sys.standin.setWebhook(`${sys.url}/webhooks/stripe`, WEBHOOK_SECRET);
  const created = await topUp(sys.url, user, creditMinor, "usd", `fund-${user}-${creditMinor}`);
  if (created.status !== 201) throw new Error(`top-up: ${JSON.stringify(created.body)}`);
  await pay(sys.standin.url, created.body.payment_intent_id as string);
  const onboarded = await api(sys.url, "POST", "/v1/connect/account", { user });
  if (onboarded.status !== 200) throw new Error(`onboarding: ${JSON.stringify(onboarded.body)}`);
  const accountId = onboarded.body.account_id as string;
  await control(sys.standin).post(`/accounts/${accountId}/enable`, {});
  await eventually(
    async () => (await api(sys.url, "GET", "/v1/connect/account", { user })).body.payouts_enabled === true,
    { what: "payouts enabled" },
  );
  await eventually(async () => (await wallet(sys.url, user)).available >= creditMinor, { what: "credit" });
  // Without settled funds a withdrawal is refused (WITHDRAW_UNSETTLED=false, the default).
  if (o.settle !== false) await settleFunds(sys);
  return { accountId };
}

/**
 * Makes every card payment's funds available at Stripe (the stand-in's settle control moves
 * `available_on` to now) and lets Coffer learn it the real way: a stream pass over every line,
 * the read a reconciliation run does, so the lines' new `available_on` is stored. The pass
 * takes the reconciliation lock, waiting out a worker's pass, so a pass that read the lines
 * before the settle cannot store its older `available_on` after this one.
 */
export async function settleFunds(sys: System): Promise<void> {
  await control(sys.standin).post("/balance/settle", {});
  await streamPass(sys);
}

/** One pass over the whole balance-transaction stream, as a run reads it, under the run's lock. */
export async function streamPass(sys: System): Promise<void> {
  const deps = processorDeps(sys);
  await eventually(
    async () =>
      (await withAdvisoryLock(deps.db, RECONCILIATION_LOCK, () => followBalanceStream(deps, { from: 0 })))
        .acquired,
    { intervalMs: 100, what: "a stream pass after settling" },
  );
}

/** What of the wallet's `available` Stripe still holds as pending. */
export async function settling(sys: System, user: string, currency = "usd"): Promise<number> {
  const r = await api(sys.url, "GET", "/v1/wallet", { user });
  const b = (r.body.balances as Array<Record<string, unknown>>).find((x) => x.currency === currency);
  return Number(b?.settling_minor ?? 0);
}

export async function requestWithdrawal(
  sys: System,
  user: string,
  amountMinor: number,
  key = `wd-${user}-${Math.random()}`,
) {
  return api(sys.url, "POST", "/v1/withdrawals", {
    user,
    body: { amount_minor: amountMinor, currency: "usd" },
    headers: { "idempotency-key": key },
  });
}

export async function approve(sys: System, id: string) {
  return api(sys.url, "POST", `/admin/withdrawals/${id}/approve`, {
    user: "ops-admin",
    role: "admin",
    body: {},
  });
}

export async function withdrawalStatus(sys: System, user: string, id: string): Promise<string> {
  return (await api(sys.url, "GET", `/v1/withdrawals/${id}`, { user })).body.status as string;
}

export async function waitForStatus(sys: System, user: string, id: string, status: string): Promise<void> {
  await eventually(async () => (await withdrawalStatus(sys, user, id)) === status, {
    timeoutMs: 30_000,
    what: `withdrawal ${status}`,
  });
}

/** All events applied and the books balanced: the end of every scenario. */
export async function settledAndBalanced(sys: System): Promise<void> {
  await eventually(async () => (await openEventCount(sys)) === 0, { what: "events settled" });
  await expectInvariants(sys);
}
