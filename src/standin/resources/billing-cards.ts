import type Stripe from "stripe";
import { resourceMissing } from "../errors.js";
import { newId, nowSeconds } from "../ids.js";
import type { ApiContext } from "../context.js";

declare module "../state.js" {
  interface ObjectTypes {
    payment_method: Stripe.PaymentMethod;
  }
}

/**
 * How a test card behaves when saved (a SetupIntent's card check, with or without 3-D Secure)
 * and when charged later off-session (an invoice), per Stripe's testing docs for Billing:
 * - `pm_card_chargeCustomerFail` (…0341) saves fine, and every later charge is declined;
 * - `pm_card_authenticationRequiredSetupForOffSession` (…3155) needs authentication to be saved,
 *   after which off-session charges go through;
 * - `pm_card_authenticationRequired` (…3184) needs authentication every time, so an off-session
 *   charge fails;
 * - `pm_card_chargeDeclined` (…0002) is declined at the card check already.
 */
export interface BillingCard {
  brand: string;
  last4: string;
  funding: "credit" | "debit";
  setup: "ok" | "decline" | "authenticate";
  charge: "ok" | "decline" | "authenticate";
  declineCode?: string;
}

const visa = (last4: string, over: Partial<BillingCard> = {}): BillingCard => ({
  brand: "visa",
  last4,
  funding: "credit",
  setup: "ok",
  charge: "ok",
  ...over,
});

const TOKENS: Record<string, BillingCard> = {
  pm_card_visa: visa("4242"),
  pm_card_visa_debit: visa("5556", { funding: "debit" }),
  pm_card_mastercard: { ...visa("4444"), brand: "mastercard" },
  pm_card_chargeDeclined: visa("0002", {
    setup: "decline",
    charge: "decline",
    declineCode: "generic_decline",
  }),
  pm_card_chargeDeclinedInsufficientFunds: visa("9995", {
    charge: "decline",
    declineCode: "insufficient_funds",
  }),
  pm_card_chargeCustomerFail: visa("0341", { charge: "decline", declineCode: "generic_decline" }),
  pm_card_authenticationRequiredSetupForOffSession: visa("3155", { setup: "authenticate" }),
  pm_card_authenticationRequired: visa("3184", { setup: "authenticate", charge: "authenticate" }),
};

/** A saved card's behaviour comes from its number, as at Stripe: the last four digits name it. */
const BY_LAST4 = new Map(Object.values(TOKENS).map((c) => [c.last4, c]));

export function cardOfPaymentMethod(pm: Stripe.PaymentMethod): BillingCard {
  return BY_LAST4.get(pm.card?.last4 ?? "") ?? visa("4242");
}

/** A test token (`pm_card_visa`) or a saved PaymentMethod of this account; anything else is 404. */
export function resolveBillingCard(
  ctx: ApiContext,
  id: string,
  param = "payment_method",
): { token: BillingCard | null; saved: Stripe.PaymentMethod | null } {
  const token = TOKENS[id];
  if (token) return { token, saved: null };
  const saved = ctx.store.get(ctx.scope, "payment_method", id);
  if (!saved) throw resourceMissing("PaymentMethod", id, param);
  return { token: null, saved };
}

/** A new card PaymentMethod made from a test token, as confirming with `pm_card_visa` does. */
export function createCardPaymentMethod(ctx: ApiContext, card: BillingCard): Stripe.PaymentMethod {
  const pm: Stripe.PaymentMethod = {
    id: newId("pm"),
    object: "payment_method",
    allow_redisplay: "unspecified",
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: "US",
      display_brand: card.brand,
      exp_month: 12,
      exp_year: new Date().getUTCFullYear() + 3,
      fingerprint: null,
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: "unregulated",
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: nowSeconds(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: "card",
  };
  return ctx.store.insert(ctx.scope, "payment_method", pm);
}

/** Attaches a PaymentMethod to a customer, with Stripe's event; attaching it twice is a no-op. */
export function attachPaymentMethod(ctx: ApiContext, pm: Stripe.PaymentMethod, customerId: string): void {
  if (pm.customer === customerId) return;
  pm.customer = customerId;
  ctx.emit("payment_method.attached", pm);
}
