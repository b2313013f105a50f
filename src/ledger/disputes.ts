import type { Currency } from "../money/currencies.js";
import {
  disputeFee,
  disputeOpened,
  disputeReinstated,
  disputeReleased,
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
  /** Coffer already reserved the amount (`dp_…:opened`), e.g. from an earlier snapshot. */
  openedPosted: boolean;
}

/** Inquiries (`warning_*`) are questions from the bank, not chargebacks: they move no money. */
export const isInquiry = (status: string) => status.startsWith("warning_");

/**
 * Every dispute status Stripe has (stripe 23.1.0's `Stripe.Dispute.Status`; src/stripe/snapshots.ts
 * fails to compile if the two lists part), in the order a dispute can move. `lost` is not final:
 * the merchant may appeal (`appeal_*`), and the appeal ends `won` or `lost` again. `won`,
 * `prevented` (stopped before it became a chargeback) and `warning_closed` (an inquiry that never
 * escalated) are final.
 */
const RANK = {
  warning_needs_response: 1,
  warning_under_review: 2,
  needs_response: 3,
  under_review: 4,
  lost: 5,
  appeal_needs_response: 6,
  appeal_under_review: 7,
  won: 9,
  prevented: 9,
  warning_closed: 9,
} as const;
export type DisputeStatus = keyof typeof RANK;

/** A chargeback still being fought, or appealed: the user's money may yet be lost, so withdrawals wait. */
export const OPEN_DISPUTE_STATUSES: readonly DisputeStatus[] = [
  "needs_response",
  "under_review",
  "appeal_needs_response",
  "appeal_under_review",
];
const FINAL = 9;
const rankOf = (status: string) => (RANK as Record<string, number | undefined>)[status] ?? 0;

export interface StatusAt {
  status: string;
  /** `created` of the event that said it: orders the moves that ranks cannot. */
  asOf: number;
}

/**
 * Statuses only move forward, so a late snapshot changes nothing. An appeal makes
 * one cycle (`lost` → `appeal_*` → `lost`) that ranks cannot order, so a move out
 * of `lost`, or back into it, needs a newer event than the one stored.
 */
export function forwardDisputeStatus(stored: StatusAt | undefined, incoming: StatusAt): StatusAt {
  if (!stored) return incoming;
  const was = rankOf(stored.status);
  const now = rankOf(incoming.status);
  if (was >= FINAL) return stored;
  if (stored.status === "lost" && now > was) return incoming.asOf >= stored.asOf ? incoming : stored;
  if (incoming.status === "lost" && stored.status.startsWith("appeal_")) {
    return incoming.asOf > stored.asOf ? incoming : stored;
  }
  return now > was || (now === was && incoming.asOf > stored.asOf) ? incoming : stored;
}

export function disputePostings(d: DisputeState): Posting[] {
  const money = { amountMinor: d.amountMinor, currency: d.currency };
  const out: Posting[] = [];
  const withdrawn = d.withdrawals.length > 0;
  if (d.status === "prevented" && !withdrawn) {
    // Stopped before it became a chargeback: nothing is taken, and a reserve made
    // from an earlier snapshot goes back to the user.
    if (d.openedPosted) out.push(disputeReleased(d.disputeId, d.userId, money));
    return out;
  }
  // Opened on `created` or `funds_withdrawn`, whichever Stripe shows first; an inquiry alone never debits.
  if (!isInquiry(d.status) || withdrawn) out.push(disputeOpened(d.disputeId, d.userId, money));
  if (withdrawn) {
    out.push(disputeWithdrawn(d.disputeId, money, d.via));
    const fee = d.withdrawals.reduce((s, w) => s + w.feeMinor, 0);
    if (fee > 0) out.push(disputeFee(d.disputeId, { amountMinor: fee, currency: d.feeCurrency }));
  }
  if (d.reinstatements.length > 0) out.push(disputeReinstated(d.disputeId, money, d.via));
  // Won (first time, or on appeal) gives the user back what the dispute took; lost leaves it with Stripe.
  if (d.status === "won") out.push(disputeWon(d.disputeId, d.userId, money));
  return out;
}
