import { spawnSync } from "node:child_process";
import pg from "pg";
import type Stripe from "stripe";
import type { StripeEvent } from "../../src/standin/index.js";
import type { ApiClient } from "./api.js";
import type { Model, ModelWithdrawal } from "./model.js";
import { sleep } from "./random.js";
import type { SubscriptionExpectation } from "./stories-subscriptions.js";

/**
 * The audit after the faults stop. Each check reads Coffer from outside (its API, its tables
 * as an operator would, `npm run ledger:check`) or Stripe (the stand-in), and compares with the
 * soak's own model. A check passes or fails with a line saying what it saw.
 */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const ROOT = new URL("../../", import.meta.url).pathname;
const first = <T>(xs: T[], n = 5) =>
  xs.slice(0, n).join("; ") + (xs.length > n ? `; … (${xs.length} in all)` : "");

/** Wallets as Coffer shows them (GET /v1/wallet) that differ from the model; empty when all equal. */
export async function walletDifferences(api: ApiClient, model: Model): Promise<string[]> {
  const byUser = new Map<
    string,
    Array<{ currency: string; available_minor: number; held_minor: number; pending_minor: number }>
  >();
  const diffs: string[] = [];
  for (const w of model.wallets()) {
    let balances = byUser.get(w.user);
    if (!balances) {
      const res = await api.call("GET", "/v1/wallet", { user: w.user });
      balances = (res.body?.balances ?? []) as NonNullable<typeof balances>;
      byUser.set(w.user, balances);
    }
    const b = balances.find((x) => x.currency === w.currency);
    const got = {
      available: b?.available_minor ?? 0,
      held: b?.held_minor ?? 0,
      pending: b?.pending_minor ?? 0,
    };
    if (got.available !== w.available || got.held !== w.held || got.pending !== 0)
      diffs.push(
        `${w.user} ${w.currency}: Coffer available ${got.available} held ${got.held} pending ${got.pending}, ` +
          `model available ${w.available} held ${w.held} pending 0`,
      );
  }
  return diffs;
}

export async function openEvents(ownerUrl: string): Promise<number> {
  return withPg(ownerUrl, async (c) => {
    const r = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM stripe_webhook_events WHERE status NOT IN ('processed', 'ignored', 'failed')`,
    );
    return r.rows[0]!.n;
  });
}

export async function withPg<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

export async function eventChecks(
  ownerUrl: string,
  all: readonly StripeEvent[],
  acked: Set<string>,
): Promise<Check[]> {
  const unacked = all.filter((e) => !acked.has(e.id)).map((e) => `${e.id} ${e.type}`);
  return withPg(ownerUrl, async (c) => {
    const rows = (
      await c.query<{ id: string; type: string; status: string; last_error: string | null }>(
        `SELECT id, type, status, last_error FROM stripe_webhook_events`,
      )
    ).rows;
    const stored = new Set(rows.map((r) => r.id));
    const missing = all.filter((e) => !stored.has(e.id)).map((e) => `${e.id} ${e.type}`);
    const open = rows.filter((r) => !["processed", "ignored", "failed"].includes(r.status));
    const failed = rows.filter((r) => r.status === "failed").map((r) => `${r.id} ${r.type}: ${r.last_error}`);
    const dupKeys = (
      await c.query<{ idempotency_key: string; n: number }>(
        `SELECT idempotency_key, count(*)::int AS n FROM wallet_ledger_transactions GROUP BY 1 HAVING count(*) > 1`,
      )
    ).rows.map((r) => `${r.idempotency_key} ×${r.n}`);
    return [
      check(
        "every event delivered (2xx) at least once",
        unacked.length === 0,
        unacked.length ? first(unacked) : `${all.length} events`,
      ),
      check(
        "every event stored by Coffer",
        missing.length === 0,
        missing.length ? first(missing) : `${rows.length} rows`,
      ),
      check(
        "every event terminal",
        open.length === 0,
        open.length ? first(open.map((r) => `${r.id} ${r.status}`)) : "none open",
      ),
      check("no event failed", failed.length === 0, failed.length ? first(failed) : "none failed"),
      check("posting keys unique", dupKeys.length === 0, dupKeys.length ? first(dupKeys) : "no key twice"),
    ];
  });
}

export function ledgerCheck(appUrl: string): Check {
  const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/ledger-check.ts"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: appUrl },
    encoding: "utf8",
  });
  const detail = r.status === 0 ? "exit 0" : `exit ${r.status}: ${(r.stderr + r.stdout).slice(0, 600)}`;
  return check("npm run ledger:check", r.status === 0, detail);
}

/**
 * At Stripe, per withdrawal: paid → one Transfer of the model's net, not reversed, and one Payout
 * of it, paid; failed → the one Transfer reversed by Coffer, the Payout failed; reversed → the
 * Transfer reversed; rejected or canceled → nothing at all.
 */
export async function withdrawalChecks(
  stripe: Stripe,
  api: ApiClient,
  model: Model,
  accountOf: (user: string) => Promise<string>,
): Promise<Check[]> {
  const atStripe: string[] = [];
  const statuses: string[] = [];
  let paid = 0;
  for (const wd of model.withdrawals.values()) {
    const transfers = (await stripe.transfers.list({ transfer_group: wd.id, limit: 10 })).data;
    const account = await accountOf(wd.user);
    const payouts = (await stripe.payouts.list({ limit: 100 }, { stripeAccount: account })).data.filter(
      (p) => p.metadata?.withdrawal_id === wd.id,
    );
    const problem = stripeProblem(wd, transfers, payouts);
    if (problem) atStripe.push(`${wd.id} (${wd.end}): ${problem}`);
    if (wd.end === "paid") paid += 1;
    const res = await api.call("GET", `/v1/withdrawals/${wd.id}`, { user: wd.user });
    if (res.body?.status !== wd.end) statuses.push(`${wd.id}: Coffer ${res.body?.status}, model ${wd.end}`);
  }
  return [
    check(
      "one Transfer and one Payout per paid withdrawal",
      atStripe.length === 0,
      atStripe.length ? first(atStripe) : `${model.withdrawals.size} withdrawals, ${paid} paid`,
    ),
    check(
      "withdrawal statuses equal the model",
      statuses.length === 0,
      statuses.length ? first(statuses) : "all equal",
    ),
  ];
}

function stripeProblem(
  wd: ModelWithdrawal,
  transfers: Stripe.Transfer[],
  payouts: Stripe.Payout[],
): string | undefined {
  if (wd.end === "rejected" || wd.end === "canceled")
    return transfers.length || payouts.length
      ? `${transfers.length} transfers, ${payouts.length} payouts`
      : undefined;
  if (transfers.length !== 1 || payouts.length !== 1)
    return `${transfers.length} transfers, ${payouts.length} payouts`;
  const [t, p] = [transfers[0]!, payouts[0]!];
  if (t.amount !== wd.netMinor || p.amount !== wd.netMinor)
    return `transfer ${t.amount}, payout ${p.amount}, model net ${wd.netMinor}`;
  if (wd.end === "paid" && (t.reversed || p.status !== "paid"))
    return `transfer reversed=${t.reversed}, payout ${p.status}`;
  if (wd.end === "failed" && (!t.reversed || p.status !== "failed"))
    return `transfer reversed=${t.reversed}, payout ${p.status}`;
  if (wd.end === "reversed" && !t.reversed) return "transfer not reversed";
  return undefined;
}

/** A reconciliation run over the whole soak, started as finance does; 0 difference, 0 discrepancies. */
export async function reconciliationCheck(api: ApiClient, from: Date): Promise<Check> {
  const window = {
    from: new Date(from.getTime() - 3_600_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
  };
  const started = await api.call("POST", "/admin/reconciliation/runs", { admin: true, body: window });
  if (started.status !== 202)
    return check("reconciliation: 0 difference, 0 discrepancies", false, `start answered ${started.status}`);
  const id = started.body.id as string;
  const deadline = Date.now() + 300_000;
  for (;;) {
    const r = await api.call("GET", `/admin/reconciliation/runs/${id}?limit=100`, { admin: true });
    const status = r.body?.status as string;
    if (["matched", "mismatch", "failed"].includes(status)) {
      const snaps = (r.body.snapshots ?? []) as Array<{ currency: string; difference_minor: number }>;
      const diffs = snaps
        .filter((s) => s.difference_minor !== 0)
        .map((s) => `${s.currency} ${s.difference_minor}`);
      const disc = (r.body.discrepancies?.data ?? []) as Array<{
        side: string;
        stripe_id: string | null;
        reason: string;
      }>;
      const ok = status === "matched" && diffs.length === 0 && disc.length === 0;
      const detail = ok
        ? `${id} matched over ${snaps.map((s) => s.currency).join(", ")}; healed ${r.body.healed_events?.length ?? 0}`
        : `${id} ${status}${r.body.error ? ` (${r.body.error})` : ""}; differences: ${first(diffs) || "none"}; ` +
          `discrepancies: ${first(disc.map((d) => `${d.side} ${d.stripe_id}: ${d.reason}`)) || "none"}`;
      return check("reconciliation: 0 difference, 0 discrepancies", ok, detail);
    }
    if (Date.now() > deadline)
      return check("reconciliation: 0 difference, 0 discrepancies", false, `${id} still ${status}`);
    await sleep(1_000);
  }
}

export const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

/**
 * Per subscription story: Stripe holds exactly one Subscription for the customer (none when the
 * card was refused), in the state the story left it; Coffer's GET /v1/subscriptions shows that
 * state (status, cancel_at_period_end, the latest invoice and its status); and each notification
 * the story's facts call for was recorded exactly once.
 */
export async function subscriptionChecks(
  stripe: Stripe,
  api: ApiClient,
  expectations: readonly SubscriptionExpectation[],
): Promise<Check[]> {
  const problems: string[] = [];
  const notes = await allNotifications(api);
  for (const x of expectations) {
    const subs = (await stripe.subscriptions.list({ customer: x.customer, status: "all", limit: 10 })).data;
    if (subs.length !== x.subscriptions) {
      problems.push(`${x.setupId}: ${subs.length} subscriptions at Stripe, expected ${x.subscriptions}`);
      continue;
    }
    const mine = (await api.call("GET", "/v1/subscriptions?limit=100", { user: x.user })).body?.data ?? [];
    const coffer = (mine as CofferSubscription[]).find((s) => s.setup_id === x.setupId);
    const sub = subs[0];
    if (!sub) {
      if (coffer) problems.push(`${x.setupId}: Coffer shows ${coffer.id}, Stripe has none`);
      continue;
    }
    if (x.status && sub.status !== x.status)
      problems.push(`${sub.id}: Stripe says ${sub.status}, the story left it ${x.status}`);
    const invoiceId =
      typeof sub.latest_invoice === "string" ? sub.latest_invoice : (sub.latest_invoice?.id ?? null);
    const invoice = invoiceId ? await stripe.invoices.retrieve(invoiceId) : null;
    const want = `${sub.id} ${sub.status} cancel_at_period_end=${sub.cancel_at_period_end} invoice ${invoiceId} ${invoice?.status ?? null}`;
    const got = coffer
      ? `${coffer.id} ${coffer.status} cancel_at_period_end=${coffer.cancel_at_period_end} invoice ${coffer.latest_invoice?.id ?? null} ${coffer.latest_invoice?.status ?? null}`
      : "nothing";
    if (got !== want) problems.push(`${x.setupId}: Coffer ${got}; Stripe ${want}`);
    for (const kind of ["trial_will_end", "invoice_payment_failed"] as const) {
      const n = notes.filter((m) => m.subscription_id === sub.id && m.kind === kind).length;
      if (n !== x.notifications[kind])
        problems.push(`${sub.id}: ${n} ${kind} notifications, expected ${x.notifications[kind]}`);
    }
  }
  return [
    check(
      "subscriptions as at Stripe, notifications once",
      problems.length === 0,
      problems.length ? first(problems) : `${expectations.length} subscription stories`,
    ),
  ];
}

interface CofferSubscription {
  id: string;
  setup_id: string;
  status: string;
  cancel_at_period_end: boolean;
  latest_invoice: { id: string; status: string | null } | null;
}

async function allNotifications(
  api: ApiClient,
): Promise<Array<{ id: string; kind: string; subscription_id: string | null }>> {
  const out: Array<{ id: string; kind: string; subscription_id: string | null }> = [];
  for (let after: string | undefined; ;) {
    const res = await api.call(
      "GET",
      `/admin/notifications?limit=100${after ? `&starting_after=${after}` : ""}`,
      { admin: true },
    );
    const page = (res.body?.data ?? []) as typeof out;
    out.push(...page);
    if (!res.body?.has_more || page.length === 0) return out;
    after = page[page.length - 1]!.id;
  }
}
