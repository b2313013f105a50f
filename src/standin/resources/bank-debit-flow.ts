import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../errors.js";
import { toJson } from "../expand.js";
import type { TestPaymentMethod } from "../payment-methods.js";
import { createChargeTransaction } from "./balance-transactions.js";

/**
 * Bank debits (ACH `us_bank_account`, `sepa_debit`): what `automatic_payment_methods` offers
 * besides cards, and where Stripe's ids are not `ch_`/`re_` but `py_`/`pyr_`. Confirming starts
 * the debit (`processing`, its charge `pending`); the bank's answer comes days later, here through
 * the `/_standin/charges/:id/succeed` and `/fail` controls.
 *
 * Where it differs from Stripe, and why: the fee is the stand-in's one card formula (Stripe
 * charges ACH 0.8 % capped at $5); Coffer reads fees from the balance transaction, so any
 * formula tests it. No mandates, microdeposits or Financial Connections verification.
 */

const BANK_TYPES = ["us_bank_account", "sepa_debit"];

export function isBankDebit(charge: Stripe.Charge): boolean {
  return BANK_TYPES.includes(charge.payment_method_details?.type ?? "");
}

/** The methods `automatic_payment_methods` offers: bank debits only in their currency, never held. */
export function automaticMethodTypes(currency: string, captureMethod: string): string[] {
  if (captureMethod === "manual") return ["card"];
  if (currency === "usd") return ["card", "us_bank_account"];
  if (currency === "eur") return ["card", "sepa_debit"];
  return ["card"];
}

/**
 * Stripe refuses a method the PaymentIntent does not allow, or a debit in a currency its scheme
 * does not debit in, before any charge is made.
 */
export function requireAllowedMethod(pi: Stripe.PaymentIntent, method: TestPaymentMethod): void {
  const { type } = method;
  if (method.type !== "card" && pi.currency !== method.currency) {
    const message = `${type} payments can only be made in ${method.currency}, not ${pi.currency}.`;
    throw invalidRequest(message, { code: "payment_intent_invalid_parameter", param: "payment_method" });
  }
  if (pi.payment_method_types.includes(type)) return;
  const message =
    `The PaymentMethod provided (${type}) is not allowed for this PaymentIntent. Please attach a ` +
    `PaymentMethod of one of the following types: ${pi.payment_method_types.join(", ")}. ` +
    `Alternatively, update the allowed payment_method_types for this PaymentIntent to include "${type}".`;
  throw invalidRequest(message, {
    code: "payment_intent_invalid_parameter",
    param: "payment_method",
    payment_intent: toJson(pi),
  });
}

/** The refund's `destination_details`: a card reversal, or the debited bank account. */
export function refundDestination(charge: Stripe.Charge): Stripe.Refund.DestinationDetails {
  const type = charge.payment_method_details?.type ?? "card";
  return type === "card" ? { card: { type: "refund" }, type: "card" } : { type };
}

/** The debit went out: Stripe's order is the charge's event, then the PaymentIntent's. */
export function startBankDebit(
  ctx: ApiContext,
  pi: Stripe.PaymentIntent,
  charge: Stripe.Charge,
): Stripe.PaymentIntent {
  pi.status = "processing";
  pi.last_payment_error = null;
  ctx.emit("charge.pending", charge);
  ctx.emit("payment_intent.processing", pi);
  return pi;
}

function pendingDebit(ctx: ApiContext, charge: Stripe.Charge): Stripe.PaymentIntent {
  if (!isBankDebit(charge) || charge.status !== "pending") {
    const message = `Charge ${charge.id} is not a bank debit waiting for its bank (status ${charge.status}).`;
    throw invalidRequest(message);
  }
  const piId = typeof charge.payment_intent === "string" ? charge.payment_intent : charge.payment_intent?.id;
  if (piId === undefined) throw new Error(`bank debit ${charge.id} has no PaymentIntent`);
  return ctx.store.require(ctx.scope, "payment_intent", piId);
}

/** The debit cleared: the money is in the balance (pending, like card funds) and the intent succeeds. */
export function clearBankDebit(ctx: ApiContext, charge: Stripe.Charge): Stripe.Charge {
  const pi = pendingDebit(ctx, charge);
  charge.status = "succeeded";
  charge.paid = true;
  charge.captured = true;
  charge.amount_captured = charge.amount;
  charge.balance_transaction = createChargeTransaction(ctx, charge, charge.amount).id;
  pi.status = "succeeded";
  pi.amount_received = charge.amount;
  ctx.emit("charge.succeeded", charge);
  ctx.emit("payment_intent.succeeded", pi);
  return charge;
}

/** The bank returned the debit; no money moved, and the customer may pay again. */
export function failBankDebit(ctx: ApiContext, charge: Stripe.Charge, code: string): Stripe.Charge {
  const pi = pendingDebit(ctx, charge);
  const message = "The customer's bank account has insufficient funds to cover this payment.";
  charge.status = "failed";
  charge.failure_code = code;
  charge.failure_message = code === "insufficient_funds" ? message : `The debit was returned (${code}).`;
  pi.status = "requires_payment_method";
  pi.payment_method = null;
  pi.last_payment_error = {
    type: "invalid_request_error",
    code: "payment_method_provider_decline",
    message: charge.failure_message,
    payment_method_type: charge.payment_method_details?.type ?? "us_bank_account",
  };
  ctx.emit("charge.failed", charge);
  ctx.emit("payment_intent.payment_failed", pi);
  return charge;
}
