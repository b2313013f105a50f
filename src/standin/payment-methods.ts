import { resourceMissing } from "./errors.js";

/** How a test card behaves when charged. */
export interface TestCard {
  type: "card";
  brand: string;
  last4: string;
  funding: "credit" | "debit";
  decline?: { code: string; declineCode: string; message: string };
}

/**
 * A bank debit: the charge is a `py_…` payment that stays `pending` while the debit clears and
 * then succeeds or fails (the charge controls), as ACH and SEPA debits do over days.
 */
export interface TestBankDebit {
  type: "us_bank_account" | "sepa_debit";
  bankName: string;
  last4: string;
  /** The one currency the scheme debits in. */
  currency: string;
}

export type TestPaymentMethod = TestCard | TestBankDebit;

const VISA: TestCard = { type: "card", brand: "visa", last4: "4242", funding: "credit" };

function declined(last4: string, code: string, declineCode: string, message: string): TestCard {
  return { type: "card", brand: "visa", last4, funding: "credit", decline: { code, declineCode, message } };
}

const ACH: TestBankDebit = {
  type: "us_bank_account",
  bankName: "STRIPE TEST BANK",
  last4: "6789",
  currency: "usd",
};
const SEPA: TestBankDebit = {
  type: "sepa_debit",
  bankName: "STRIPE TEST BANK",
  last4: "3000",
  currency: "eur",
};

/** Stripe's test PaymentMethod tokens that Coffer's tests use. */
const TEST_TOKENS: Record<string, TestPaymentMethod> = {
  pm_card_visa: VISA,
  pm_card_visa_debit: { type: "card", brand: "visa", last4: "5556", funding: "debit" },
  pm_card_mastercard: { type: "card", brand: "mastercard", last4: "4444", funding: "credit" },
  pm_card_amex: { type: "card", brand: "amex", last4: "8431", funding: "credit" },
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
  // Stripe's ACH test token for account 000123456789; whether the debit clears is the test's call.
  pm_usBankAccount_success: ACH,
  pm_usBankAccount: ACH,
  pm_sepaDebit: SEPA,
};

/**
 * Test tokens behave as documented by Stripe; any other `pm_…` id is taken as a working Visa
 * (a PaymentMethod attached elsewhere). Anything else does not exist.
 */
export function resolvePaymentMethod(id: string, param = "payment_method"): TestPaymentMethod {
  const token = TEST_TOKENS[id];
  if (token) return token;
  if (id.startsWith("pm_") && !id.startsWith("pm_card_")) return VISA;
  throw resourceMissing("PaymentMethod", id, param);
}
