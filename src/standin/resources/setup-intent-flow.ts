import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { StripeApiError, invalidRequest } from "../errors.js";
import { toJson } from "../expand.js";
import {
  attachPaymentMethod,
  cardOfPaymentMethod,
  createCardPaymentMethod,
  resolveBillingCard,
} from "./billing-cards.js";

const CONFIRMABLE: readonly Stripe.SetupIntent.Status[] = [
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
];

function unexpectedState(si: Stripe.SetupIntent, action: string): StripeApiError {
  const message = `You cannot ${action} this SetupIntent because it has a status of ${si.status}.`;
  return invalidRequest(message, { code: "setup_intent_unexpected_state", setup_intent: toJson(si) });
}

/** Saved: the card is attached to the intent's customer, as Stripe does on success. */
function succeed(ctx: ApiContext, si: Stripe.SetupIntent, pm: Stripe.PaymentMethod): Stripe.SetupIntent {
  si.status = "succeeded";
  si.next_action = null;
  si.last_setup_error = null;
  si.payment_method = pm.id;
  if (typeof si.customer === "string") attachPaymentMethod(ctx, pm, si.customer);
  ctx.emit("setup_intent.succeeded", si);
  return si;
}

/** A failed attempt leaves the intent retryable with another card, as Stripe does. */
function fail(ctx: ApiContext, si: Stripe.SetupIntent, error: Stripe.SetupIntent.LastSetupError): void {
  si.status = "requires_payment_method";
  si.next_action = null;
  si.payment_method = null;
  si.last_setup_error = error;
  ctx.emit("setup_intent.setup_failed", si);
}

/**
 * Confirms with a test token or a saved card: saved (succeeded), declined at the card check
 * (402, `setup_intent.setup_failed`), or waiting for the cardholder's 3-D Secure challenge
 * (`requires_action` with `next_action`, `setup_intent.requires_action`).
 */
export function confirmSetupIntent(
  ctx: ApiContext,
  si: Stripe.SetupIntent,
  paymentMethodParam: string | undefined,
): Stripe.SetupIntent {
  if (!CONFIRMABLE.includes(si.status)) throw unexpectedState(si, "confirm");
  const id = paymentMethodParam ?? (typeof si.payment_method === "string" ? si.payment_method : undefined);
  if (id === undefined) {
    const message =
      "You cannot confirm this SetupIntent because it's missing a payment method. Update the SetupIntent with a payment method and then confirm it again.";
    throw invalidRequest(message, { code: "setup_intent_unexpected_state", param: "payment_method" });
  }
  const { token, saved } = resolveBillingCard(ctx, id);
  const card = token ?? cardOfPaymentMethod(saved!);
  if (card.setup === "decline") {
    const error = {
      type: "card_error" as const,
      code: "card_declined",
      decline_code: card.declineCode ?? "generic_decline",
      message: "Your card was declined.",
      doc_url: "https://stripe.com/docs/error-codes/card_declined",
    };
    fail(ctx, si, error);
    throw new StripeApiError(402, { ...error, setup_intent: toJson(si) });
  }
  const pm = saved ?? createCardPaymentMethod(ctx, card);
  // 3-D Secure is needed to save the card; every confirm asks for it again (authenticate finishes it).
  if (card.setup === "authenticate") {
    si.status = "requires_action";
    si.payment_method = pm.id;
    si.next_action = {
      type: "use_stripe_sdk",
      use_stripe_sdk: { type: "three_d_secure_redirect", stripe_js: "https://hooks.stripe.com/3d_secure" },
    };
    ctx.emit("setup_intent.requires_action", si);
    return si;
  }
  return succeed(ctx, si, pm);
}

/** The cardholder's 3-D Secure challenge, which only the browser and the bank can finish. */
export function authenticateSetupIntent(
  ctx: ApiContext,
  si: Stripe.SetupIntent,
  outcome: "succeed" | "fail",
): Stripe.SetupIntent {
  if (si.status !== "requires_action" || typeof si.payment_method !== "string") {
    throw unexpectedState(si, "authenticate");
  }
  const pm = ctx.store.require(ctx.scope, "payment_method", si.payment_method);
  if (outcome === "succeed") return succeed(ctx, si, pm);
  fail(ctx, si, {
    type: "invalid_request_error",
    code: "setup_intent_authentication_failure",
    message:
      "We are unable to authenticate your payment method. Please choose a different payment method and try again.",
    doc_url: "https://stripe.com/docs/error-codes/setup-intent-authentication-failure",
  });
  return si;
}

/** Stripe cancels only an intent that has not succeeded yet. */
export function cancelSetupIntent(
  ctx: ApiContext,
  si: Stripe.SetupIntent,
  reason: Stripe.SetupIntent.CancellationReason | null,
): Stripe.SetupIntent {
  if (!CONFIRMABLE.includes(si.status)) throw unexpectedState(si, "cancel");
  si.status = "canceled";
  si.cancellation_reason = reason;
  si.next_action = null;
  ctx.emit("setup_intent.canceled", si);
  return si;
}
