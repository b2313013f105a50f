import type { Currency } from "../money/currencies.js";
import {
  disputeFee,
  disputeOpened,
  disputeReinstated,
  disputeWithdrawn,
  disputeWon,
  type Via,
} from "./movements.js";
import type { Posting } from "./types.js";

/**
 * A dispute as Stripe describes it now, reduced to what moves money. The
 * postings follow from this state alone, never from which event said it, so
 * any order of `charge.dispute.*` events converges on the same books.
 */
export interface DisputeState {
  disputeId: string;
  userId: string;
  amountMinor: number;
  currency: Currency;
  status: string;
  /** Stripe's balance transactions on the dispute: funds withdrawn (negative) and reinstated (positive). */
  withdrawals: Array<{ amountMinor: number; feeMinor: number }>;
  reinstatements: Array<{ amountMinor: number }>;
  /** `fx` when the charge settled in another currency: Stripe's side is then booked by the stream. */
  via: Via;
  /** Stripe charges its dispute fee in the settlement currency. */
  feeCurrency: Currency;
}

/** Inquiries (`warning_*`) are questions from the bank, not chargebacks: they move no money. */
export const isInquiry = (status: string) => status.startsWith("warning_");

export const DISPUTE_STATUS_RANK: Readonly<Record<string, number>> = {
  warning_needs_response: 1,
  warning_under_review: 2,
  needs_response: 3,
  under_review: 4,
  warning_closed: 9,
  won: 9,
  lost: 9,
};

export function disputePostings(d: DisputeState): Posting[] {
  const money = { amountMinor: d.amountMinor, currency: d.currency };
  const out: Posting[] = [];
  const withdrawn = d.withdrawals.length > 0;
  // Opened on `created` or `funds_withdrawn`, whichever Stripe shows first; an inquiry alone never debits.
  if (!isInquiry(d.status) || withdrawn) out.push(disputeOpened(d.disputeId, d.userId, money));
  if (withdrawn) {
    out.push(disputeWithdrawn(d.disputeId, money, d.via));
    const fee = d.withdrawals.reduce((s, w) => s + w.feeMinor, 0);
    if (fee > 0) out.push(disputeFee(d.disputeId, { amountMinor: fee, currency: d.feeCurrency }));
  }
  if (d.reinstatements.length > 0) out.push(disputeReinstated(d.disputeId, money, d.via));
  // Won gives the user back what the dispute took; lost leaves it with Stripe.
  if (d.status === "won") out.push(disputeWon(d.disputeId, d.userId, money));
  return out;
}
