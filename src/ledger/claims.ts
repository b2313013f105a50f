import type { Currency } from "../money/currencies.js";
import {
  disputeFee,
  fxSettlement,
  platformPayout,
  platformPayoutReturned,
  processingFee,
  stripeFee,
} from "./movements.js";
import type { Posting } from "./types.js";

/**
 * Terminology
 * - **Balance transaction**: one line of Stripe's own books (`txn_…`): `net` is what it
 *   changed Stripe's balance by, in the settlement currency.
 * - **Claim**: a ledger key a balance transaction accounts for. A line matches when
 *   every key it claims is posted and the `stripe` entries of those postings sum to
 *   `−net`: Stripe's holdings are minus the `stripe` account, so a line that added
 *   `net` to Stripe's balance took `net` off the account.
 * - **Group**: lines matched together. A refund and its failure are one group: at
 *   Stripe they net to zero, and a refund that had already failed when Coffer
 *   first saw it was rightly never debited, so neither key is posted. Every other
 *   line is a group of its own.
 * - **Booking**: a posting that only the stream can make, because no event carries
 *   it (processing and dispute fees, conversions, platform payouts). Keys match the
 *   ones handlers use, so a fee booked by both lands once.
 */
export interface BalanceTxn {
  id: string;
  type: string;
  reportingCategory: string;
  sourceId: string | null;
  amountMinor: number;
  feeMinor: number;
  netMinor: number;
  currency: Currency;
  /** Set when Stripe converted the source's currency into this one. */
  exchangeRate: number | null;
  /** From the expanded source: the PaymentIntent of a charge, refund or dispute; a transfer's withdrawal. */
  paymentIntentId: string | null;
  withdrawalId: string | null;
  /** That PaymentIntent is a Coffer top-up: only then are its fees and conversions Coffer's to book. */
  paymentIsTopUp: boolean;
  /**
   * The subscription invoice that PaymentIntent paid (Coffer's record of Stripe's InvoicePayment),
   * or null. Its charge claims `in_…:paid` instead of `pi_…:captured`.
   */
  invoiceId: string | null;
  /** Created before Coffer's books began: the cut-over's opening balance already holds it. */
  beforeBooks: boolean;
}

export interface LineRule {
  group: string;
  claims: string[];
  bookings: Posting[];
  /** Why nothing can claim the line, when nothing does. */
  unexplained: string | null;
}

const CHARGE_TYPES = new Set(["charge", "payment"]);
const REFUND_TYPES = new Set(["refund", "payment_refund"]);
const REFUND_FAILURE_TYPES = new Set(["refund_failure", "payment_failure_refund"]);
const PAYOUT_RETURN_TYPES = new Set(["payout_failure", "payout_cancel"]);
const PAYMENT_TYPES = new Set([...CHARGE_TYPES, ...REFUND_TYPES, ...REFUND_FAILURE_TYPES]);
const DISPUTE_CATEGORIES = new Set(["dispute", "dispute_reversal"]);

/** What one balance transaction books and claims. Pure: the same line always gives the same answer. */
export function lineRule(t: BalanceTxn): LineRule {
  const money = (amountMinor: number) => ({ amountMinor, currency: t.currency });
  const bookings: Posting[] = [];
  const claims: string[] = [];
  const book = (p: Posting) => {
    bookings.push(p);
    claims.push(p.key);
  };
  const src = t.sourceId;
  const group =
    src && (REFUND_TYPES.has(t.type) || REFUND_FAILURE_TYPES.has(t.type)) ? `refund:${src}` : t.id;
  const unexplained = (why: string): LineRule => ({ group, claims: [], bookings: [], unexplained: why });
  // A converted line's settlement amount passes through `fx`; the user side stays in the source currency.
  const fx = () => {
    if (t.exchangeRate !== null && t.amountMinor !== 0) book(fxSettlement(t.id, t.amountMinor, t.currency));
  };

  if (t.beforeBooks) {
    return unexplained("created before Coffer's books began: the opening balance, not a posting, holds it");
  }
  // Fees Stripe charged or returned on a line no fee posting below covers (instant payouts, a
  // dispute fee given back when it is won, refunds).
  const otherFee = () => {
    if (t.feeMinor !== 0) book(stripeFee(t.id, t.feeMinor, t.currency));
  };
  const payment = PAYMENT_TYPES.has(t.type) || DISPUTE_CATEGORIES.has(t.reportingCategory);
  if (payment && (!src || !t.paymentIntentId)) {
    return unexplained(
      `${t.type} ${src ?? "?"} has no PaymentIntent: it was not made through a Coffer top-up`,
    );
  }
  if (payment && t.invoiceId !== null) return invoiceLine(t, group, unexplained);
  if (payment && !t.paymentIsTopUp) {
    return unexplained(
      `${t.type} ${src ?? "?"} belongs to ${t.paymentIntentId ?? "?"}, a payment Coffer did not create: ` +
        `Stripe holds it but no wallet was credited; refund it or book it to the platform`,
    );
  }
  if (CHARGE_TYPES.has(t.type)) {
    if (t.feeMinor > 0) book(processingFee(t.id, money(t.feeMinor)));
    fx();
    claims.push(`${t.paymentIntentId}:captured`);
  } else if (REFUND_TYPES.has(t.type) && src) {
    claims.push(`${src}:refunded`);
    otherFee();
    fx();
  } else if (REFUND_FAILURE_TYPES.has(t.type) && src) {
    claims.push(`${src}:reversed`);
    otherFee();
    fx();
  } else if (t.reportingCategory === "dispute" && src) {
    claims.push(`${src}:withdrawn`);
    if (t.feeMinor > 0) book(disputeFee(src, money(t.feeMinor)));
    fx();
  } else if (t.reportingCategory === "dispute_reversal" && src) {
    claims.push(`${src}:reinstated`);
    otherFee();
    fx();
  } else if (t.type === "transfer") {
    if (!t.withdrawalId) return unexplained(`transfer ${src ?? "?"} is not a Coffer withdrawal`);
    claims.push(`${t.withdrawalId}:transferred`);
  } else if (t.type === "transfer_refund") {
    if (!t.withdrawalId) return unexplained(`transfer reversal ${src ?? "?"} is not of a Coffer withdrawal`);
    claims.push(`${t.withdrawalId}:returned`);
  } else if (t.type === "payout" && src && t.amountMinor < 0) {
    book(platformPayout(src, money(-t.amountMinor)));
    otherFee();
  } else if (PAYOUT_RETURN_TYPES.has(t.type) && src && t.amountMinor > 0) {
    book(platformPayoutReturned(src, money(t.amountMinor)));
    otherFee();
  } else {
    return unexplained(
      `Stripe booked a ${t.type} (${t.reportingCategory}) that no Coffer flow accounts for; ` +
        `find it in the Stripe dashboard and book a correction or raise it with Stripe`,
    );
  }
  return { group, claims, bookings, unexplained: null };
}

/** The Stripe object a claim key names (`pi_1:captured` → `pi_1`): what a heal looks for in events. */
export const claimObjectId = (key: string): string => key.slice(0, key.lastIndexOf(":"));

/**
 * A line about a subscription invoice's charge. The charge claims the invoice's `in_…:paid`, and
 * its Stripe fee is booked like any charge's. What Coffer does not book for subscriptions yet is
 * left unexplained with what to do, so the line check lists it instead of guessing: a charge
 * Stripe converted (subscription revenue is booked in the invoice's currency, never through
 * `fx`), and refunds and disputes of the charge (they would move subscription_revenue → stripe).
 */
function invoiceLine(t: BalanceTxn, group: string, unexplained: (why: string) => LineRule): LineRule {
  const invoice = t.invoiceId!;
  if (!CHARGE_TYPES.has(t.type)) {
    return unexplained(
      `${t.type} ${t.sourceId ?? "?"} is on the charge of subscription invoice ${invoice}: Coffer does not ` +
        `book refunds or disputes of subscription charges yet; book subscription_revenue → stripe for it by hand`,
    );
  }
  if (t.exchangeRate !== null) {
    return unexplained(
      `subscription invoice ${invoice} was charged in another currency than Stripe settled it in ` +
        `(${t.currency}): book the conversion between subscription_revenue and fx by hand`,
    );
  }
  const fee = t.feeMinor > 0 ? [processingFee(t.id, { amountMinor: t.feeMinor, currency: t.currency })] : [];
  return { group, claims: [...fee.map((b) => b.key), `${invoice}:paid`], bookings: fee, unexplained: null };
}
