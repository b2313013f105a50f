/**
 * Settling funds (SPEC → Ledger → Settling): the part of a wallet's `available` that Stripe
 * still holds as pending. Pure: the store reads each unsettled card credit, and this decides
 * what is settling at a given moment and when enough will have settled.
 *
 * The rule, "never wrong in the user's favour":
 * - A credit (`pi_…:captured`) is unsettled while the stream has not yet seen the charge's
 *   balance transaction (its `available_on` is unknown, so it counts as settling forever) or
 *   while that line's `available_on` is still ahead. Time alone settles it: no job has to run.
 * - A Stripe-forced debit (a refund net of its reversal, a dispute net of a win or release)
 *   comes off the payment it belongs to. So a refund of a settling payment reduces settling
 *   first, and a dispute on a settled payment leaves settling funds alone: it was settled
 *   money Stripe took back. Charging forced debits to the payment, rather than to "whatever
 *   settled most recently", is what keeps withdrawable money real at Stripe.
 * - What remains is clamped to `[0, max(available, 0)]`: a withdrawal hold or a debit on
 *   settled money can leave less available than is settling, and settling is part of
 *   available, never more.
 *
 * Example: settled 100, then a 50 top-up whose line says available in two days, then a 30
 * refund of that top-up. Available 120, settling 50 − 30 = 20, withdrawable 100. A dispute of
 * 80 on the old payment instead: available 70, settling 50, withdrawable 20.
 */
export interface UnsettledCredit {
  /** The credit's amount less the forced debits on the same payment; never below 0. */
  remainingMinor: number;
  /** Unix seconds, from the charge's balance transaction; null while the stream has not seen it. */
  availableOn: number | null;
}

const stillSettling = (c: UnsettledCredit, at: number) => c.availableOn === null || c.availableOn > at;

/** What of `availableMinor` is settling at `at` (unix seconds). */
export function settlingAt(availableMinor: number, credits: readonly UnsettledCredit[], at: number): number {
  let sum = 0;
  for (const c of credits) if (stillSettling(c, at)) sum += c.remainingMinor;
  return Math.min(sum, Math.max(availableMinor, 0));
}

/** What a withdrawal may draw on at `at`. */
export const withdrawableAt = (availableMinor: number, credits: readonly UnsettledCredit[], at: number) =>
  availableMinor - settlingAt(availableMinor, credits, at);

/**
 * The first moment (unix seconds, not before `now`) at which `amountMinor` is withdrawable:
 * `now` if it already is, null when it needs a credit whose `available_on` is still unknown,
 * or when the available balance itself does not cover it (more money must come in first).
 */
export function settlesAt(
  availableMinor: number,
  credits: readonly UnsettledCredit[],
  amountMinor: number,
  now: number,
): number | null {
  if (amountMinor > availableMinor) return null;
  // Withdrawable only grows as time passes, and only at a known available_on: try each in order.
  const moments = [
    now,
    ...credits.flatMap((c) => (c.availableOn !== null && c.availableOn > now ? [c.availableOn] : [])),
  ];
  moments.sort((a, b) => a - b);
  for (const at of moments) if (withdrawableAt(availableMinor, credits, at) >= amountMinor) return at;
  return null;
}
