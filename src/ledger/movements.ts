import type { Currency } from "../money/currencies.js";
import {
  available,
  DISPUTE_RESERVE,
  FEE_REVENUE,
  held,
  OPENING_BALANCE,
  STRIPE,
  STRIPE_FEES,
} from "./accounts.js";
import type { Account, Posting, PostingKind, Transfer } from "./types.js";

/**
 * SPEC's postings table, one function per row. Each key is built from the Stripe
 * (or Coffer) object and the movement, never from the event, so sibling events
 * about the same money (`payment_intent.succeeded` and `charge.succeeded`,
 * `charge.refunded` and `refund.created`) land on the same key and move it once.
 */

const t = (from: Account, to: Account, amountMinor: number, currency: Currency): Transfer => ({
  from,
  to,
  money: { amountMinor, currency },
});

function posting(
  kind: PostingKind,
  key: string,
  sourceId: string,
  transfers: Transfer[],
  userInitiated = false,
): Posting {
  return { kind, key, sourceId, transfers, userInitiated };
}

export interface Amount {
  amountMinor: number;
  currency: Currency;
}

/** Payment captured: Stripe now holds the money on the user's behalf. */
export const paymentCaptured = (piId: string, userId: string, a: Amount) =>
  posting("payment_captured", `${piId}:captured`, piId, [
    t(STRIPE, available(userId), a.amountMinor, a.currency),
  ]);

/** Stripe's processing fee on a charge, keyed by its balance transaction; the platform bears it. */
export const processingFee = (txnId: string, a: Amount) =>
  posting("processing_fee", `${txnId}:fee`, txnId, [t(STRIPE_FEES, STRIPE, a.amountMinor, a.currency)]);

export const refunded = (refundId: string, userId: string, a: Amount) =>
  posting("refund", `${refundId}:refunded`, refundId, [
    t(available(userId), STRIPE, a.amountMinor, a.currency),
  ]);

export const refundReversed = (refundId: string, userId: string, a: Amount) =>
  posting("refund_reversed", `${refundId}:reversed`, refundId, [
    t(STRIPE, available(userId), a.amountMinor, a.currency),
  ]);

export const disputeOpened = (disputeId: string, userId: string, a: Amount) =>
  posting("dispute_opened", `${disputeId}:opened`, disputeId, [
    t(available(userId), DISPUTE_RESERVE, a.amountMinor, a.currency),
  ]);

export const disputeWithdrawn = (disputeId: string, a: Amount) =>
  posting("dispute_withdrawn", `${disputeId}:withdrawn`, disputeId, [
    t(DISPUTE_RESERVE, STRIPE, a.amountMinor, a.currency),
  ]);

export const disputeFee = (disputeId: string, a: Amount) =>
  posting("dispute_fee", `${disputeId}:fee`, disputeId, [t(STRIPE_FEES, STRIPE, a.amountMinor, a.currency)]);

export const disputeReinstated = (disputeId: string, a: Amount) =>
  posting("dispute_reinstated", `${disputeId}:reinstated`, disputeId, [
    t(STRIPE, DISPUTE_RESERVE, a.amountMinor, a.currency),
  ]);

export const disputeWon = (disputeId: string, userId: string, a: Amount) =>
  posting("dispute_won", `${disputeId}:won`, disputeId, [
    t(DISPUTE_RESERVE, available(userId), a.amountMinor, a.currency),
  ]);

/** The user asked to withdraw: the only posting a user starts, so it may not overdraw. */
export const withdrawalHold = (wdId: string, userId: string, a: Amount) =>
  posting(
    "withdrawal_hold",
    `${wdId}:hold`,
    wdId,
    [t(available(userId), held(userId), a.amountMinor, a.currency)],
    true,
  );

export const withdrawalRelease = (wdId: string, userId: string, a: Amount) =>
  posting("withdrawal_release", `${wdId}:release`, wdId, [
    t(held(userId), available(userId), a.amountMinor, a.currency),
  ]);

/** Net leaves to the user's connected account; the fee stays with the platform. */
export function withdrawalTransferred(wdId: string, userId: string, net: Amount, feeMinor: number): Posting {
  const transfers = [t(held(userId), STRIPE, net.amountMinor, net.currency)];
  if (feeMinor > 0) transfers.push(t(held(userId), FEE_REVENUE, feeMinor, net.currency));
  return posting("withdrawal_transferred", `${wdId}:transferred`, wdId, transfers);
}

export function withdrawalReturned(wdId: string, userId: string, net: Amount, feeMinor: number): Posting {
  const transfers = [t(STRIPE, available(userId), net.amountMinor, net.currency)];
  if (feeMinor > 0) transfers.push(t(FEE_REVENUE, available(userId), feeMinor, net.currency));
  return posting("withdrawal_returned", `${wdId}:returned`, wdId, transfers);
}

/** A legacy balance imported once per user and currency. */
export const openingBalance = (userId: string, a: Amount) =>
  posting("opening_balance", `legacy:${userId}:${a.currency}:opening`, userId, [
    t(OPENING_BALANCE, available(userId), a.amountMinor, a.currency),
  ]);
