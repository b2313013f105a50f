import { DomainError } from "./errors.js";

export interface FeeRule {
  fixed_minor: number;
  bps: number;
  min_minor: number;
}

export interface WithdrawalQuote {
  amountMinor: number;
  feeMinor: number;
  netMinor: number;
}

/**
 * fee = fixed + ceil(amount × bps / 10000). `amount × bps` can pass 2^53 for
 * large amounts, so the product is computed in BigInt.
 */
export function quoteWithdrawal(amountMinor: number, rule: FeeRule): WithdrawalQuote {
  if (amountMinor < rule.min_minor) {
    throw new DomainError("amount_below_minimum", `withdrawals start at ${rule.min_minor} minor units`, {
      min_minor: rule.min_minor,
    });
  }
  const product = BigInt(amountMinor) * BigInt(rule.bps);
  const pct = (product + 9_999n) / 10_000n; // ceil for non-negative integers
  const fee = BigInt(rule.fixed_minor) + pct;
  const net = BigInt(amountMinor) - fee;
  if (net <= 0n)
    throw new DomainError("amount_below_fee", "the fee would take the whole amount", {
      fee_minor: Number(fee),
    });
  return { amountMinor, feeMinor: Number(fee), netMinor: Number(net) };
}
