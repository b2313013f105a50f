import type Stripe from "stripe";
import { sleep } from "./random.js";
import {
  createTopUp,
  pause,
  payByCard,
  stripeDoes,
  stripeOf,
  waitFor,
  type StoryContext,
} from "./story-context.js";
import type { Scenario } from "./workload.js";

/**
 * Stories about one withdrawal: the user tops up, is onboarded to Connect once, and asks for a
 * withdrawal; then the user cancels it, an admin rejects it, or an admin approves it and
 * Coffer pays it through a Transfer and a Payout that the bank then pays or bounces, or that
 * Stripe reverses. The soak finds the Transfer and the Payout at Stripe (the stand-in), never in
 * Coffer's tables.
 */
const onboarded = new Map<string, Promise<string>>();

/** Onboards the user once, however many stories need it: POST /v1/connect/account, then Stripe verifies. */
export function onboard(ctx: StoryContext, user: string): Promise<string> {
  let p = onboarded.get(user);
  if (!p) {
    p = (async () => {
      const res = await ctx.api.call("POST", "/v1/connect/account", { user });
      if (res.status !== 200)
        throw new Error(`connect account answered ${res.status}: ${JSON.stringify(res.body)}`);
      const accountId = res.body.account_id as string;
      await stripeDoes(ctx, `/accounts/${accountId}/enable`);
      await waitFor(`payouts enabled for ${user}`, async () => {
        const r = await ctx.api.call("GET", "/v1/connect/account", { user });
        return r.status === 200 && r.body.payouts_enabled === true ? true : undefined;
      });
      return accountId;
    })();
    onboarded.set(user, p);
  }
  return p;
}

/** The connected account of a user the stories onboarded. */
export async function onboardedAccount(user: string): Promise<string> {
  const p = onboarded.get(user);
  if (!p) throw new Error(`${user} was never onboarded`);
  return p;
}

/** Asks for the withdrawal until Coffer holds it: funds credited and settled at Stripe take a moment. */
async function request(ctx: StoryContext, s: Scenario, amountMinor: number): Promise<string> {
  const key = `soak-${ctx.seed}-${s.index}-withdrawal`;
  const body = { amount_minor: amountMinor, currency: s.currency };
  const res = await waitFor(`withdrawal of ${s.user} held`, async () => {
    const r = await ctx.api.call("POST", "/v1/withdrawals", { user: s.user, body, idempotencyKey: key });
    const code = r.body?.error?.code as string | undefined;
    // Not yet: the credit's events are still on their way (no usd row yet: currency_mismatch),
    // or Stripe has not made the funds available. A refusal that lasts fails at the deadline.
    if (r.status === 422 && code === "currency_mismatch") return undefined;
    if (r.status === 409 && (code === "insufficient_funds" || code === "funds_not_settled")) return undefined;
    return r;
  });
  if (res.status !== 201) throw new Error(`withdrawal answered ${res.status}: ${JSON.stringify(res.body)}`);
  const id = res.body.id as string;
  const wd = ctx.model.withdrawalRequested(id, s.user, s.currency, amountMinor);
  if (res.body.net_minor !== wd.netMinor || res.body.amount_minor !== amountMinor)
    ctx.anomaly(s, `withdrawal ${id}: Coffer says net ${res.body.net_minor}, the model ${wd.netMinor}`);
  return id;
}

/**
 * A state change that is idempotent by state: a repeat (our retry after a lost answer) gets 409
 * `withdrawal_not_pending`, and then the withdrawal's status says whether the first one worked.
 */
async function decide(
  ctx: StoryContext,
  s: Scenario,
  id: string,
  path: string,
  body: object,
  admin: boolean,
) {
  const res = await ctx.api.call("POST", path, { ...(admin ? { admin } : { user: s.user }), body });
  if (res.status === 200) return;
  const now = await ctx.api.call("GET", `/v1/withdrawals/${id}`, { user: s.user });
  const moved = now.body?.status !== "pending_review";
  if (res.status === 409 && res.body?.error?.code === "withdrawal_not_pending" && moved) return;
  throw new Error(`${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
}

async function atStripe(ctx: StoryContext, id: string, accountId: string) {
  const stripe = stripeOf(ctx);
  const transfer = await waitFor(`transfer of ${id}`, async () => {
    const list = await stripe.transfers.list({ transfer_group: id, limit: 10 });
    return list.data[0];
  });
  const payout = await waitFor(`payout of ${id}`, async () => {
    const list = await stripe.payouts.list({ limit: 100 }, { stripeAccount: accountId });
    return list.data.find((p: Stripe.Payout) => p.metadata?.withdrawal_id === id);
  });
  return { transfer, payout };
}

export async function withdrawalStory(ctx: StoryContext, s: Scenario): Promise<void> {
  const amountMinor = s.partsMinor[0]!;
  const piId = await createTopUp(ctx, s);
  await pause(s, 0);
  await payByCard(ctx, s, piId);
  const accountId = await onboard(ctx, s.user);
  await pause(s, 1);
  const id = await request(ctx, s, amountMinor);
  await pause(s, 2);
  const m = ctx.model;
  switch (s.kind) {
    case "withdrawal_canceled":
      await decide(ctx, s, id, `/v1/withdrawals/${id}/cancel`, {}, false);
      return m.withdrawalEnded(id, "canceled");
    case "withdrawal_rejected":
      await decide(ctx, s, id, `/admin/withdrawals/${id}/reject`, { reason: "soak: rejected" }, true);
      return m.withdrawalEnded(id, "rejected");
    default:
      break;
  }
  await decide(ctx, s, id, `/admin/withdrawals/${id}/approve`, {}, true);
  const { transfer, payout } = await atStripe(ctx, id, accountId);
  await sleep(s.pausesMs[3] ?? 0);
  switch (s.kind) {
    case "withdrawal_paid":
      await stripeDoes(ctx, `/payouts/${payout.id}/paid`);
      return m.withdrawalEnded(id, "paid");
    case "withdrawal_payout_failed":
      await stripeDoes(ctx, `/payouts/${payout.id}/fail`, { failure_code: "account_closed" });
      return m.withdrawalEnded(id, "failed");
    case "withdrawal_reversed":
      // The payout already drew the connected balance; Stripe lets the platform reverse into a negative one.
      await stripeDoes(ctx, `/transfers/${transfer.id}/reverse`, { allow_negative: true });
      return m.withdrawalEnded(id, "reversed");
    default:
      throw new Error(`not a withdrawal story: ${s.kind}`);
  }
}
