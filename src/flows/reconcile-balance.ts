import type Stripe from "stripe";
import { booksBegan } from "../db/stores/balance-transactions.js";
import { databaseNow, ledgerPositions, type RunRow, type SnapshotRow } from "../db/stores/reconciliation.js";
import type { LineCounts } from "../db/stores/line-check.js";
import type { FlowDeps } from "./deps.js";
import { patiently, toLines, type StreamCut } from "./reconcile-stream.js";

/**
 * How often the balance is read again when lines arrived while it was read. At a day's 100,000
 * lines (about one a second) the three reads of an attempt are quiet about half the time; busier
 * traffic needs more tries, and a last attempt that was not quiet can show a line made during it
 * as a difference (seen in test/reconciliation-traffic.test.ts with 8 tries).
 */
const BALANCE_READS = 30;

/**
 * The balance check: per currency, what Stripe holds (available + pending) against
 * what the books say it holds, minus the `stripe` account. One snapshot row per
 * currency that either side knows, with the line counts of the same run; a
 * currency matches only when the difference is zero and no line is unmatched.
 *
 * Both sides are taken at the stream's cut, not live: under traffic Stripe holds a charge
 * made a moment ago before Coffer has booked it, which is no difference. Stripe's balance is
 * what its balance transactions add up to (each one's net, pending until `available_on`), so
 * the lines made after the cut, listed from Stripe around the balance read, are taken off it,
 * and the postings those lines claim are taken off the books. What is left is the same moment
 * on both sides, and any difference in it is the books'.
 */
export async function balanceSnapshots(
  deps: FlowDeps,
  run: RunRow,
  counts: readonly LineCounts[],
  healedEvents: number,
  cut: StreamCut,
): Promise<SnapshotRow[]> {
  const stripe = await stripeAtCut(deps, cut);
  const sum = (rows: Array<{ amount: number; currency: string }>, currency: string) =>
    rows.filter((r) => r.currency === currency).reduce((s, r) => s + r.amount, 0);
  const since = (currency: string, pending: boolean) =>
    stripe.after
      .filter((t) => t.currency === currency && (t.status === "pending") === pending)
      .reduce((s, t) => s + t.net, 0);
  const ledger = await ledgerPositions(deps.db, { before: stripe.booksBefore, excludeKeys: stripe.claims });
  const currencies = new Set<string>([
    ...stripe.balance.available.map((b) => b.currency),
    ...stripe.balance.pending.map((b) => b.currency),
    ...ledger.keys(),
    ...counts.map((c) => c.currency),
  ]);
  return [...currencies].sort().map((currency) => {
    const available = sum(stripe.balance.available, currency) - since(currency, false);
    const pending = sum(stripe.balance.pending, currency) - since(currency, true);
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

interface StripeAtCut {
  balance: Stripe.Balance;
  /** Stripe's lines after the cut that its balance held when read. */
  after: Stripe.BalanceTransaction[];
  /** The ledger keys those lines claim: their postings are after the cut too. */
  claims: string[];
  /** The database's clock just before the balance read: a posting stamped later may be for a line made after it. */
  booksBefore: Date;
}

/**
 * Stripe's balance with the lines after the cut known exactly: the lines are listed before and
 * after the balance is read, and when both lists agree no line was made in between, so the
 * balance held exactly those. A posting stamped before `booksBefore` had its line made before
 * the balance read (Stripe books the line first), so the books read up to it hold nothing the
 * balance lacks. If traffic never pauses for one attempt, the last is used: a line made during
 * it then shows as a difference, and the warning says why.
 */
async function stripeAtCut(deps: FlowDeps, cut: StreamCut): Promise<StripeAtCut> {
  const listedAtCut = new Set(cut.listed);
  const afterCut = async (expand: boolean) =>
    (await linesSince(deps, cut.createdS, expand)).filter((t) => !listedAtCut.has(t.id));
  for (let attempt = 1; ; attempt++) {
    const booksBefore = await databaseNow(deps.db);
    const before = new Set((await afterCut(false)).map((t) => t.id));
    const balance = await patiently(() => deps.stripe.balance.retrieve());
    const after = await afterCut(true);
    const quiet = after.length === before.size && after.every((t) => before.has(t.id));
    if (quiet || attempt >= BALANCE_READS) {
      if (!quiet) {
        deps.log.warn(
          { attempts: attempt, lines_after_cut: after.length },
          "Stripe's balance moved during every read: lines made meanwhile may show as a difference",
        );
      }
      const read = await toLines(deps, after, await booksBegan(deps.db));
      return { balance, after, claims: read.flatMap((r) => r.line.claims), booksBefore };
    }
  }
}

/** Every balance transaction created at or after `createdS`, newest first; sources expanded if asked. */
async function linesSince(
  deps: FlowDeps,
  createdS: number,
  expand: boolean,
): Promise<Stripe.BalanceTransaction[]> {
  const out: Stripe.BalanceTransaction[] = [];
  let startingAfter: string | undefined;
  for (;;) {
    const page = await patiently(() =>
      deps.stripe.balanceTransactions.list({
        limit: 100,
        created: { gte: createdS },
        ...(expand && { expand: ["data.source"] }),
        ...(startingAfter !== undefined && { starting_after: startingAfter }),
      }),
    );
    out.push(...page.data);
    if (!page.has_more || page.data.length === 0) return out;
    startingAfter = page.data[page.data.length - 1]!.id;
  }
}
