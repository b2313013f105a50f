import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { pathParam } from "../context.js";
import { StripeApiError, invalidRequest, paramError, unexpectedState } from "../errors.js";
import { toJson } from "../expand.js";
import * as p from "../params.js";
import { resolvePaymentMethod } from "../payment-methods.js";
import type { TestCard } from "../payment-methods.js";
import { requireAllowedMethod, startBankDebit } from "./bank-debit-flow.js";
import { createChargeTransaction } from "./balance-transactions.js";
import { createCharge } from "./charges.js";
import { releaseUncaptured } from "./refund-flow.js";

const CONFIRMABLE: readonly Stripe.PaymentIntent.Status[] = [
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
];

/** Captures `amountMinor` of an authorized charge: the money now exists in Stripe's balance. */
function captureCharge(ctx: ApiContext, charge: Stripe.Charge, amountMinor: number): void {
  charge.captured = true;
  charge.amount_captured = amountMinor;
  charge.balance_transaction = createChargeTransaction(ctx, charge, amountMinor).id;
}

/** A decline leaves the PaymentIntent retryable and answers 402, as Stripe does. */
function decline(ctx: ApiContext, pi: Stripe.PaymentIntent, charge: Stripe.Charge, card: TestCard): never {
  const { code, declineCode, message } = card.decline ?? {
    code: "card_declined",
    declineCode: "generic_decline",
    message: "Your card was declined.",
  };
  const error = {
    type: "card_error" as const,
    code,
    decline_code: declineCode,
    message,
    charge: charge.id,
    doc_url: `https://stripe.com/docs/error-codes/${code}`,
    payment_method_type: "card",
  };
  pi.status = "requires_payment_method";
  pi.payment_method = null; // Stripe detaches the failed payment method from the intent
  pi.last_payment_error = error;
  ctx.emit("charge.failed", charge);
  ctx.emit("payment_intent.payment_failed", pi);
  throw new StripeApiError(402, { ...error, payment_intent: toJson(pi) });
}

/**
 * Confirms with a test card: a Charge per attempt; automatic capture books a balance transaction
 * with Stripe's fee at once, manual capture only authorizes. Events follow Stripe's order:
 * the charge event first, then the PaymentIntent's.
 */
export function confirmPaymentIntent(
  ctx: ApiContext,
  pi: Stripe.PaymentIntent,
  paymentMethodParam: string | undefined,
): Stripe.PaymentIntent {
  if (!CONFIRMABLE.includes(pi.status)) {
    const message = `You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`;
    throw unexpectedState(message, { payment_intent: toJson(pi) });
  }
  const paymentMethod =
    paymentMethodParam ?? (typeof pi.payment_method === "string" ? pi.payment_method : undefined);
  if (paymentMethod === undefined) {
    const message =
      "You cannot confirm this PaymentIntent because it's missing a payment method. " +
      "Update the PaymentIntent with a payment method and then confirm it again.";
    throw unexpectedState(message, { param: "payment_method", payment_intent: toJson(pi) });
  }
  const method = resolvePaymentMethod(paymentMethod);
  requireAllowedMethod(pi, method);
  pi.payment_method = paymentMethod;
  const charge = createCharge(ctx, pi, paymentMethod, method);
  pi.latest_charge = charge.id;
  if (method.type !== "card") return startBankDebit(ctx, pi, charge);
  const card = method;
  if (card.decline) decline(ctx, pi, charge, card);

  pi.last_payment_error = null;
  if (pi.capture_method === "manual") {
    pi.status = "requires_capture";
    pi.amount_capturable = pi.amount;
    ctx.emit("charge.succeeded", charge);
    ctx.emit("payment_intent.amount_capturable_updated", pi);
    return pi;
  }
  captureCharge(ctx, charge, pi.amount);
  pi.status = "succeeded";
  pi.amount_received = pi.amount;
  ctx.emit("charge.succeeded", charge);
  ctx.emit("payment_intent.succeeded", pi);
  return pi;
}

export function confirmPaymentIntentRoute(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["payment_method", "expand", "return_url", "off_session"]);
  const pi = ctx.store.require(ctx.scope, "payment_intent", pathParam(ctx, "id"));
  return confirmPaymentIntent(ctx, pi, p.optString(ctx.params, "payment_method"));
}

/**
 * Captures all or part of an authorization. Stripe refunds the rest at once ("any additional
 * amount is automatically refunded"): a refund of the remainder that moves no money, counted in
 * the charge's `amount_refunded`, so a partially captured charge is partly refunded from the start.
 */
export function capturePaymentIntentRoute(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["amount_to_capture", "metadata", "expand"]);
  const pi = ctx.store.require(ctx.scope, "payment_intent", pathParam(ctx, "id"));
  const amount = p.optInt(ctx.params, "amount_to_capture") ?? pi.amount_capturable;
  if (pi.status !== "requires_capture") {
    const message =
      `This PaymentIntent could not be captured because it has a status of ${pi.status}. ` +
      `Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`;
    throw unexpectedState(message, { payment_intent: toJson(pi) });
  }
  if (amount < 1) {
    throw paramError(
      "This value must be greater than or equal to 1.",
      "amount_to_capture",
      "parameter_invalid_integer",
    );
  }
  if (amount > pi.amount_capturable) {
    const message = `The amount to capture (${amount}) cannot be greater than the amount capturable (${pi.amount_capturable}).`;
    throw invalidRequest(message, { code: "amount_too_large", param: "amount_to_capture" });
  }
  const chargeId = typeof pi.latest_charge === "string" ? pi.latest_charge : pi.latest_charge?.id;
  if (chargeId === undefined) throw new Error(`requires_capture PaymentIntent ${pi.id} has no charge`);
  const charge = ctx.store.require(ctx.scope, "charge", chargeId);
  pi.metadata = p.applyMetadata(pi.metadata, ctx.params);
  const released = pi.amount_capturable - amount;
  captureCharge(ctx, charge, amount);
  pi.status = "succeeded";
  pi.amount_received = amount;
  pi.amount_capturable = 0;
  const release = released > 0 ? releaseUncaptured(ctx, charge, released) : undefined;
  ctx.emit("charge.captured", charge);
  if (release) {
    ctx.emit("refund.created", release);
    ctx.emit("charge.refunded", charge);
  }
  ctx.emit("payment_intent.succeeded", pi);
  return pi;
}
