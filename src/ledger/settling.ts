/**
 * Settling funds (SPEC → Ledger → Settling): the part of a wallet's `available` that Stripe
 * still holds as pending. Pure: the store reads each unsettled card credit, and this decides
 * what is settling now and, from Stripe's dates, when enough should have settled.
 *
 * The rule, "never wrong in the user's favour":
 *
 *     settling = clamp(Σ unsettled credits at their full credited amount, 0, available)
 *
 * - A credit (`pi_…:captured`) is settled once Coffer has read its charge's balance transaction
 *   from Stripe with status `available`, and not before. Until then it is settling: while the
 *   stream has not seen the line, while the line's `available_on` is ahead, and also once that
 *   date has come but Stripe has not been asked again. Stripe can push a pending line's date back
 *   (a reserve, a slower payout schedule) without Coffer hearing of it, so a date alone is a
 *   forecast, never a settlement: trusting it would let a user withdraw money Stripe still holds.
 *   The worker's pass asks again about each pending line whose date has come
 *   (src/flows/balance-recheck.ts), so a credit settles within a pass of its date; a late pass
 *   keeps it settling longer, which is the platform's side to err on.
 * - A Stripe-forced debit (a refund, a dispute) does not reduce what is settling: Stripe takes
 *   refunds and dispute withdrawals from the platform's *available* balance, while the charge
 *   stays pending in full until its `available_on`. Charging a refund to its settling payment
 *   would make the rest of a mixed wallet look withdrawable before Stripe has it. The forced
 *   debit lowers `available`, and the clamp does the rest: once available falls below what is
 *   settling, settling is all of it. So where a wallet holds only settling funds, a refund
 *   lowers settling (the clamp); where it holds settled funds too, the refund comes off them.
 * - The clamp to `[0, max(available, 0)]`: settling is part of available, never more, so a
 *   withdrawal hold or a debit can leave it smaller than the credits that are still pending.
 *
 * Example: settled 100, then a 50 top-up whose line says available in two days, then a 30
 * refund of that top-up. Available 120, settling 50, withdrawable 70: exactly what Stripe has
 * available of this wallet's money (100 − 30). Charging the refund to the payment would have
 * said settling 20, withdrawable 100, 30 more than Stripe holds. A dispute of 80 lost on the
 * old payment instead: available 70, settling 50 (untouched), withdrawable 20.
 */

/** A card credit Stripe has not yet been seen to make available. */
export interface UnsettledCredit {
  /** The credit as posted, in full: refunds and disputes of the payment do not reduce it. */
  amountMinor: number;
  /** Stripe's date for the charge's line as last read (unix seconds); null while the stream has not seen it. */
  availableOn: number | null;
}

function clamped(sum: number, availableMinor: number): number {
  return Math.min(sum, Math.max(availableMinor, 0));
}

/** What of `availableMinor` is settling now: every unsettled credit, whatever its date says. */
export function settlingMinor(availableMinor: number, credits: readonly UnsettledCredit[]): number {
  let sum = 0;
  for (const c of credits) sum += c.amountMinor;
  return clamped(sum, availableMinor);
}

/** What a withdrawal may draw on now. */
export const withdrawableMinor = (availableMinor: number, credits: readonly UnsettledCredit[]) =>
  availableMinor - settlingMinor(availableMinor, credits);

/**
 * The forecast: the first of Stripe's dates (unix seconds) by which enough will have settled for
 * `amountMinor`, if each line becomes available on its `available_on`. It may already have passed:
 * the date has come and Stripe's word on it has not been read yet. Null when it needs a credit
 * whose date is still unknown, or when the available balance itself does not cover the amount
 * (more money must come in first). Call it only for an amount not withdrawable now.
 */
export function settlesAt(
  availableMinor: number,
  credits: readonly UnsettledCredit[],
  amountMinor: number,
): number | null {
  if (amountMinor > availableMinor) return null;
  const dates = [...new Set(credits.flatMap((c) => (c.availableOn === null ? [] : [c.availableOn])))];
  dates.sort((a, b) => a - b);
  for (const at of dates) {
    let sum = 0;
    for (const c of credits) if (c.availableOn === null || c.availableOn > at) sum += c.amountMinor;
    if (availableMinor - clamped(sum, availableMinor) >= amountMinor) return at;
  }
  return null;
}
