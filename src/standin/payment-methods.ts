import { resourceMissing } from "./errors.js";

/** How a test card behaves when charged. */
export interface TestCard {
  brand: string;
  last4: string;
  funding: "credit" | "debit";
  decline?: { code: string; declineCode: string; message: string };
}

const VISA: TestCard = { brand: "visa", last4: "4242", funding: "credit" };

function declined(last4: string, code: string, declineCode: string, message: string): TestCard {
  return { brand: "visa", last4, funding: "credit", decline: { code, declineCode, message } };
}

/** Stripe's test PaymentMethod tokens that Coffer's tests use. */
const TEST_TOKENS: Record<string, TestCard> = {
  pm_card_visa: VISA,
  pm_card_visa_debit: { brand: "visa", last4: "5556", funding: "debit" },
  pm_card_mastercard: { brand: "mastercard", last4: "4444", funding: "credit" },
  pm_card_amex: { brand: "amex", last4: "8431", funding: "credit" },
  pm_card_chargeDeclined: declined("0002", "card_declined", "generic_decline", "Your card was declined."),
  pm_card_chargeDeclinedInsufficientFunds: declined(
    "9995",
    "card_declined",
    "insufficient_funds",
    "Your card has insufficient funds.",
  ),
  pm_card_chargeDeclinedExpiredCard: declined(
    "0069",
    "expired_card",
    "expired_card",
    "Your card has expired.",
  ),
  pm_card_chargeDeclinedIncorrectCvc: declined(
    "0127",
    "incorrect_cvc",
    "incorrect_cvc",
    "Your card's security code is incorrect.",
  ),
};

/**
 * Test tokens behave as documented by Stripe; any other `pm_…` id is taken as a working Visa
 * (a PaymentMethod attached elsewhere). Anything else does not exist.
 */
export function resolvePaymentMethod(id: string, param = "payment_method"): TestCard {
  const token = TEST_TOKENS[id];
  if (token) return token;
  if (id.startsWith("pm_") && !id.startsWith("pm_card_")) return VISA;
  throw resourceMissing("PaymentMethod", id, param);
}
