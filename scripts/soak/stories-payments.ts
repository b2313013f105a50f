import { ensureUser } from "../../src/db/stores/users.js";
import { attachPaymentIntent, insertCreating } from "../../src/db/stores/top-ups.js";
import { newId } from "../../src/ids.js";
import {
  createTopUp,
  pause,
  payByCard,
  stripeDoes,
  stripeOf,
  stripeTries,
  whileDbUp,
  type StoryContext,
} from "./story-context.js";
import type { Scenario } from "./workload.js";

/**
 * Stories about one payment: a top-up paid (or declined, or authorized and then captured in
 * part or canceled), then what the cardholder, the bank and Stripe do to it. Each step that
 * moves money at Stripe tells the model, right after Stripe accepted it.
 */
export async function paymentStory(ctx: StoryContext, s: Scenario): Promise<void> {
  const m = ctx.model;
  const stripe = stripeOf(ctx);
  if (s.kind === "partial_capture" || s.kind === "authorization_canceled") return authorizedFirst(ctx, s);
  const piId = await createTopUp(ctx, s);
  await pause(s, 0);
  if (s.kind === "declined") {
    const declined = await stripeTries(ctx, `/payment_intents/${piId}/pay`, {
      payment_method: "pm_card_chargeDeclined",
    });
    if (declined.status !== 402) throw new Error(`a declined card answered ${declined.status}`);
    return;
  }
  if (s.kind === "bank_debit_refunded") return bankDebit(ctx, s, piId);
  const chargeId = await payByCard(ctx, s, piId);
  await pause(s, 1);
  const dispute = async (body: object = {}) => {
    const dp = await stripeDoes(ctx, `/charges/${chargeId}/dispute`, body);
    return dp.id as string;
  };
  const opened = () => m.disputeOpened(s.user, s.currency, s.amountMinor);
  const won = () => m.disputeWon(s.user, s.currency, s.amountMinor);
  switch (s.kind) {
    case "top_up":
      return;
    case "refund_full":
      await stripe.refunds.create({ payment_intent: piId });
      m.refunded(s.user, s.currency, s.amountMinor);
      return;
    case "refunds_partial":
      for (const [i, part] of s.partsMinor.entries()) {
        await stripe.refunds.create({ payment_intent: piId, amount: part });
        m.refunded(s.user, s.currency, part);
        await pause(s, 2 + i);
      }
      return;
    case "refund_failed": {
      const re = await stripe.refunds.create({
        payment_intent: piId,
        metadata: { standin_status: "pending" },
      });
      m.refunded(s.user, s.currency, s.amountMinor);
      await pause(s, 2);
      await stripeDoes(ctx, `/refunds/${re.id}/fail`, { failure_reason: "expired_or_canceled_card" });
      m.refundFailed(s.user, s.currency, s.amountMinor);
      return;
    }
    case "dispute_won": {
      const dp = await dispute();
      opened();
      await pause(s, 2);
      await stripeDoes(ctx, `/disputes/${dp}/close`, { outcome: "won" });
      return won();
    }
    case "dispute_lost": {
      const dp = await dispute();
      opened();
      await pause(s, 2);
      await stripeDoes(ctx, `/disputes/${dp}/close`, { outcome: "lost" });
      return;
    }
    case "dispute_prevented":
      // Stripe's fraud tools settled it before any money moved.
      await dispute({ prevented: true });
      return;
    case "inquiry": {
      const dp = await dispute({ inquiry: true });
      await pause(s, 2);
      await stripeDoes(ctx, `/disputes/${dp}/update`, { status: "warning_under_review" });
      await pause(s, 3);
      await stripeDoes(ctx, `/disputes/${dp}/close`, { outcome: "won" });
      return;
    }
    case "dispute_reinstated": {
      const dp = await dispute();
      opened();
      await pause(s, 2);
      await stripeDoes(ctx, `/disputes/${dp}/update`, { status: "under_review" });
      await pause(s, 3);
      await stripeDoes(ctx, `/disputes/${dp}/close`, { outcome: "won" });
      return won();
    }
    case "appeal_won":
    case "appeal_lost": {
      const dp = await dispute();
      opened();
      await pause(s, 2);
      await stripeDoes(ctx, `/disputes/${dp}/close`, { outcome: "lost" });
      await pause(s, 3);
      await stripeDoes(ctx, `/disputes/${dp}/update`, { status: "appeal_needs_response" });
      if (s.kind === "appeal_won")
        await stripeDoes(ctx, `/disputes/${dp}/update`, { status: "appeal_under_review" });
      await pause(s, 4);
      await stripeDoes(ctx, `/disputes/${dp}/close`, { outcome: s.kind === "appeal_won" ? "won" : "lost" });
      if (s.kind === "appeal_won") won();
      return;
    }
    default:
      throw new Error(`not a payment story: ${s.kind}`);
  }
}

/** ACH: the bank pays days later (`py_…`), and its refunds (`pyr_…`) stay pending until it pays them back. */
async function bankDebit(ctx: StoryContext, s: Scenario, piId: string): Promise<void> {
  const paying = await stripeDoes(ctx, `/payment_intents/${piId}/pay`, {
    payment_method: "pm_usBankAccount_success",
  });
  await pause(s, 1);
  await stripeDoes(ctx, `/charges/${paying.latest_charge as string}/succeed`);
  ctx.model.captured(s.user, s.currency, s.amountMinor);
  const refunds: string[] = [];
  for (const part of s.partsMinor) {
    refunds.push((await stripeOf(ctx).refunds.create({ payment_intent: piId, amount: part })).id);
    ctx.model.refunded(s.user, s.currency, part);
  }
  await pause(s, 2);
  for (const id of refunds) await stripeDoes(ctx, `/refunds/${id}/succeed`);
}

/**
 * A top-up whose PaymentIntent only authorizes (capture_method=manual), as a platform that
 * captures later configures it. Coffer's public route creates only automatic captures, so the
 * soak records the top-up as that route does (the same store functions, with the application's
 * role) and creates the intent at Stripe itself. Then it captures part, or cancels.
 */
async function authorizedFirst(ctx: StoryContext, s: Scenario): Promise<void> {
  const stripe = stripeOf(ctx);
  ctx.model.touch(s.user, s.currency);
  // A retry after a crash that committed the insert finds the same row by its key.
  const { id: topUpId } = await whileDbUp(async () => {
    await ensureUser(ctx.db, s.user);
    return insertCreating(ctx.db, {
      id: newId("top"),
      userId: s.user,
      idempotencyKey: `soak-${ctx.seed}-${s.index}-authorized`,
      amountMinor: s.amountMinor,
      currency: s.currency,
      livemode: false,
    });
  });
  const pi = await stripe.paymentIntents.create(
    {
      amount: s.amountMinor,
      currency: s.currency,
      capture_method: "manual",
      metadata: { user_id: s.user, purpose: "wallet_top_up", top_up_id: topUpId },
    },
    { idempotencyKey: `soak-${ctx.seed}-${s.index}-pi` },
  );
  await whileDbUp(() =>
    attachPaymentIntent(ctx.db, topUpId, { id: pi.id, status: pi.status, clientSecret: pi.client_secret }),
  );
  await stripeDoes(ctx, `/payment_intents/${pi.id}/pay`);
  await pause(s, 1);
  if (s.kind === "authorization_canceled") {
    await stripe.paymentIntents.cancel(pi.id);
    return;
  }
  const capture = s.partsMinor[0]!;
  await stripe.paymentIntents.capture(pi.id, { amount_to_capture: capture });
  ctx.model.captured(s.user, s.currency, capture);
}
