import { ledgerPositions, type RunRow, type SnapshotRow } from "../db/stores/reconciliation.js";
import type { LineCounts } from "../db/stores/line-check.js";
import type { FlowDeps } from "./deps.js";

/**
 * The balance check: per currency, what Stripe holds (available + pending) against
 * what the books say it holds, minus the `stripe` account. One snapshot row per
 * currency that either side knows, with the line counts of the same run; a
 * currency matches only when the difference is zero and no line is unmatched.
 */
export async function balanceSnapshots(
  deps: FlowDeps,
  run: RunRow,
  counts: readonly LineCounts[],
  healedEvents: number,
): Promise<SnapshotRow[]> {
  const balance = await deps.stripe.balance.retrieve();
  const sum = (rows: Array<{ amount: number; currency: string }>, currency: string) =>
    rows.filter((r) => r.currency === currency).reduce((s, r) => s + r.amount, 0);
  const ledger = await ledgerPositions(deps.db);
  const currencies = new Set<string>([
    ...balance.available.map((b) => b.currency),
    ...balance.pending.map((b) => b.currency),
    ...ledger.keys(),
    ...counts.map((c) => c.currency),
  ]);
  return [...currencies].sort().map((currency) => {
    const available = sum(balance.available, currency);
    const pending = sum(balance.pending, currency);
    const books = ledger.get(currency) ?? { stripe: 0, opening: 0, fx: 0 };
    const position = -books.stripe;
    const lines = counts.find((c) => c.currency === currency);
    const difference = available + pending - position;
    const unmatched = (lines?.stripeUnmatched ?? 0) + (lines?.ledgerUnmatched ?? 0);
    return {
      run_id: run.id,
      currency,
      stripe_available_minor: available,
      stripe_pending_minor: pending,
      ledger_position_minor: position,
      difference_minor: difference,
      status: difference === 0 && unmatched === 0 ? "matched" : "mismatch",
      stripe_matched: lines?.stripeMatched ?? 0,
      stripe_unmatched: lines?.stripeUnmatched ?? 0,
      ledger_matched: lines?.ledgerMatched ?? 0,
      ledger_unmatched: lines?.ledgerUnmatched ?? 0,
      healed_events: healedEvents,
      opening_balance_minor: books.opening,
      fx_exposure_minor: books.fx,
      window_start: run.window_start,
      window_end: run.window_end,
    };
  });
}
