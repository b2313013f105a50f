/**
 * Terminology
 *
 * - **Account**: a bucket of one currency that money moves between. Users own
 *   `available` (spendable) and `held` (reserved for withdrawals in flight). The
 *   platform owns `stripe` (the outside world), `stripe_fees`, `fee_revenue` and
 *   `dispute_reserve`.
 * - **Transfer**: one movement of a positive amount *from* an account *to* another.
 * - **Posting**: one ledger transaction, a list of transfers in one currency, under
 *   an idempotency key that names the money movement (`pi_…:captured`). Because
 *   every transfer debits one account exactly what it credits another, a posting
 *   balances by construction.
 * - **Entry**: one row of `wallet_ledger`, an account and a signed amount. A
 *   transfer becomes two entries: `-amount` on `from`, `+amount` on `to`.
 * - **Balance**: what moved in minus what moved out. Money enters from `stripe`,
 *   so user accounts are positive and Stripe's holdings equal `-balance(stripe)`.
 */
import type { Currency } from "../money/currencies.js";

export const USER_BUCKETS = ["available", "held"] as const;
export type UserBucket = (typeof USER_BUCKETS)[number];

export const PLATFORM_ACCOUNTS = [
  "stripe",
  "stripe_fees",
  "fee_revenue",
  "dispute_reserve",
  "opening_balance",
  "platform_bank",
  "fx",
  // What subscribers paid for their plans: Stripe Billing charges the card and the money stays in
  // the platform's balance, credited to no wallet (SPEC → Subscriptions is silent on the account).
  "subscription_revenue",
] as const;
export type PlatformAccountName = (typeof PLATFORM_ACCOUNTS)[number];

export type Account =
  | { readonly type: "user"; readonly userId: string; readonly bucket: UserBucket }
  | { readonly type: "platform"; readonly name: PlatformAccountName };

export interface Money {
  readonly amountMinor: number;
  readonly currency: Currency;
}

export interface Transfer {
  readonly from: Account;
  readonly to: Account;
  readonly money: Money;
}

/** Which money movement a posting records; one per row of SPEC's postings table. */
export const POSTING_KINDS = [
  "payment_captured",
  "processing_fee",
  "refund",
  "refund_reversed",
  "dispute_opened",
  "dispute_withdrawn",
  "dispute_fee",
  "dispute_reinstated",
  "dispute_won",
  "dispute_released",
  "withdrawal_hold",
  "withdrawal_release",
  "withdrawal_transferred",
  "withdrawal_returned",
  "opening_balance",
  "opening_recorded",
  "fx_settlement",
  "platform_payout",
  "platform_payout_returned",
  "subscription_paid",
] as const;
export type PostingKind = (typeof POSTING_KINDS)[number];

export interface Posting {
  /** Names the money movement, e.g. `pi_123:captured`. Posting it twice moves money once. */
  readonly key: string;
  readonly kind: PostingKind;
  readonly transfers: readonly Transfer[];
  /**
   * True when a user's own action causes the posting (a withdrawal hold). Such a
   * posting may never take a user's available balance below zero; Stripe-forced
   * debits (refunds, disputes) may, and the balance is then flagged.
   */
  readonly userInitiated: boolean;
  /** The Stripe object the movement belongs to (`pi_…`, `re_…`, `dp_…`, `wd_…`). */
  readonly sourceId: string;
}

export interface Entry {
  readonly account: Account;
  readonly currency: Currency;
  readonly amountMinor: number;
}
