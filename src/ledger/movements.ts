import type { Currency } from "../money/currencies.js";
import { createHash } from "node:crypto";
import {
  available,
  DISPUTE_RESERVE,
  FEE_REVENUE,
  FX,
  held,
  OPENING_BALANCE,
  PLATFORM_BANK,
  STRIPE,
  STRIPE_FEES,
  SUBSCRIPTION_REVENUE,
} from "./accounts.js";
import type { Account, Posting, PostingKind, Transfer } from "./types.js";

/**
 * SPEC's postings table, one function per row. Each key is built from the Stripe
 * (or Coffer) object and the movement, never from the event, so sibling events
 * about the same money (`payment_intent.succeeded` and `charge.succeeded`,
 * `charge.refunded` and `refund.created`) land on the same key and move it once.
 *
 * `via` is where outside money meets the user's: `stripe` when Stripe settled the
 * charge in its own currency, `fx` when it converted it. Then the user's side stays
 * in the charge's currency and `fxSettlement` books what Stripe actually holds, in
 * the settlement currency, so every posting stays single-currency.
 */

/** The account outside money passes through: Stripe itself, or the conversion account. */
export type Via = typeof STRIPE | typeof FX;

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
export const paymentCaptured = (piId: string, userId: string, a: Amount, via: Via = STRIPE) =>
  posting("payment_captured", `${piId}:captured`, piId, [
    t(via, available(userId), a.amountMinor, a.currency),
  ]);

/** Stripe's processing fee on a charge, keyed by its balance transaction; the platform bears it. */
export const processingFee = (txnId: string, a: Amount) =>
  posting("processing_fee", `${txnId}:fee`, txnId, [t(STRIPE_FEES, STRIPE, a.amountMinor, a.currency)]);

/**
 * A fee Stripe charged (positive) or gave back (negative) on a line other than a charge, keyed by
 * that balance transaction: an instant payout's fee, a dispute fee returned when it is won.
 */
export function stripeFee(txnId: string, signedMinor: number, currency: Currency): Posting {
  const transfer =
    signedMinor > 0
      ? t(STRIPE_FEES, STRIPE, signedMinor, currency)
      : t(STRIPE, STRIPE_FEES, -signedMinor, currency);
  return posting("processing_fee", `${txnId}:fee`, txnId, [transfer]);
}

export const refunded = (refundId: string, userId: string, a: Amount, via: Via = STRIPE) =>
  posting("refund", `${refundId}:refunded`, refundId, [t(available(userId), via, a.amountMinor, a.currency)]);

export const refundReversed = (refundId: string, userId: string, a: Amount, via: Via = STRIPE) =>
  posting("refund_reversed", `${refundId}:reversed`, refundId, [
    t(via, available(userId), a.amountMinor, a.currency),
  ]);

export const disputeOpened = (disputeId: string, userId: string, a: Amount) =>
  posting("dispute_opened", `${disputeId}:opened`, disputeId, [
    t(available(userId), DISPUTE_RESERVE, a.amountMinor, a.currency),
  ]);

export const disputeWithdrawn = (disputeId: string, a: Amount, via: Via = STRIPE) =>
  posting("dispute_withdrawn", `${disputeId}:withdrawn`, disputeId, [
    t(DISPUTE_RESERVE, via, a.amountMinor, a.currency),
  ]);

export const disputeFee = (disputeId: string, a: Amount) =>
  posting("dispute_fee", `${disputeId}:fee`, disputeId, [t(STRIPE_FEES, STRIPE, a.amountMinor, a.currency)]);

export const disputeReinstated = (disputeId: string, a: Amount, via: Via = STRIPE) =>
  posting("dispute_reinstated", `${disputeId}:reinstated`, disputeId, [
    t(via, DISPUTE_RESERVE, a.amountMinor, a.currency),
  ]);

export const disputeWon = (disputeId: string, userId: string, a: Amount) =>
  posting("dispute_won", `${disputeId}:won`, disputeId, [
    t(DISPUTE_RESERVE, available(userId), a.amountMinor, a.currency),
  ]);

/** A dispute Stripe prevented before it became a chargeback, after Coffer had reserved it: the user gets it back. */
export const disputeReleased = (disputeId: string, userId: string, a: Amount) =>
  posting("dispute_released", `${disputeId}:released`, disputeId, [
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

/**
 * Keys built from a user id carry a hash of it: ids are opaque and unbounded, and
 * Stripe (and our own key column) cap keys at 255 characters.
 */
export const userKeyHash = (userId: string) =>
  createHash("sha256").update(userId, "utf8").digest("hex").slice(0, 32);

/**
 * A legacy balance imported once per user and currency. A negative legacy balance
 * is a debt the user brings along: it moves the other way, and the import flags it.
 */
export function openingBalance(userId: string, signedMinor: number, currency: Currency): Posting {
  const key = `legacy:${userKeyHash(userId)}:${currency}:opening`;
  const transfer =
    signedMinor > 0
      ? t(OPENING_BALANCE, available(userId), signedMinor, currency)
      : t(available(userId), OPENING_BALANCE, -signedMinor, currency);
  return posting("opening_balance", key, userId, [transfer]);
}

/** What Stripe held for the platform before Coffer: recorded once per currency at cut-over. */
export const openingRecorded = (a: Amount) =>
  posting("opening_recorded", `opening:${a.currency}`, `opening:${a.currency}`, [
    t(STRIPE, OPENING_BALANCE, a.amountMinor, a.currency),
  ]);

/**
 * What Stripe converted: a balance transaction in the settlement currency whose source was in
 * another. Money in (`amount` > 0) enters from `stripe` into `fx`; money out leaves `fx` to `stripe`.
 */
export function fxSettlement(txnId: string, signedMinor: number, currency: Currency): Posting {
  const money = Math.abs(signedMinor);
  const transfer = signedMinor > 0 ? t(STRIPE, FX, money, currency) : t(FX, STRIPE, money, currency);
  return posting("fx_settlement", `${txnId}:fx`, txnId, [transfer]);
}

/** A payout of the platform's own balance to the platform's bank: money leaves Stripe. */
export const platformPayout = (payoutId: string, a: Amount) =>
  posting("platform_payout", `${payoutId}:paid_out`, payoutId, [
    t(PLATFORM_BANK, STRIPE, a.amountMinor, a.currency),
  ]);

/** A platform payout that failed or was canceled after Stripe booked it: the money is back. */
export const platformPayoutReturned = (payoutId: string, a: Amount) =>
  posting("platform_payout_returned", `${payoutId}:returned`, payoutId, [
    t(STRIPE, PLATFORM_BANK, a.amountMinor, a.currency),
  ]);

/**
 * A subscription invoice paid by a charge: the money is in the platform's Stripe balance and is
 * the platform's own, credited to no wallet (Stripe Billing charges the card; SPEC →
 * Subscriptions). Keyed by the invoice: Coffer charges each invoice through its one default
 * InvoicePayment, so the invoice names the movement, and `invoice_payment.paid` (which books it)
 * and the charge's balance transaction (which claims it) both reach this key.
 */
export const invoicePaid = (invoiceId: string, a: Amount) =>
  posting("subscription_paid", `${invoiceId}:paid`, invoiceId, [
    t(STRIPE, SUBSCRIPTION_REVENUE, a.amountMinor, a.currency),
  ]);
