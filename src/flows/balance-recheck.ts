import type Stripe from "stripe";
import { dueLines, refreshLines, type DueLine } from "../db/stores/balance-transactions.js";
import { stripeRateLimit } from "../stripe/errors.js";
import type { FlowDeps } from "./deps.js";

/**
 * Settled funds are what Stripe has said is available, not what its date promised
 * (src/ledger/settling.ts): Stripe may push a pending line's `available_on` back (a reserve, a
 * slower payout schedule) at any time, and the follow pass re-reads only its last seconds. So a
 * line Coffer holds as pending is asked about again once its recorded `available_on` has come,
 * and until Stripe's answer is stored its credit stays settling.
 *
 * Cheap by construction: due lines come in runs (a day's charges fall due together), so the pass
 * lists the created window they span, 100 lines a page, following Stripe's cursor
 * (`starting_after`) rather than narrowing the window by `created`: a second holds any number of
 * lines, and a window re-aimed at the newest unanswered line's second would fetch the same
 * answered page again. Once the window is read whole, a due line it did not hold is retrieved by
 * id, one per read.
 *
 * A pass keeps going while due lines remain, up to `RECHECK_READS_PER_PASS` calls through the
 * shared Stripe budget: Stripe puts a whole day's card funds on one `available_on`, so a busy day
 * falls due at once, and 3 reads a pass (300 lines at best) drained such a day over many passes
 * while its funds stayed settling. 20 reads answer 2,000 lines a pass and hold the reconciliation
 * lock for seconds, not minutes. Each `DUE_BATCH` of due lines gets its own window; when one is
 * answered the next is read from Postgres. A rate limit ends the pass: nothing is lost, the lines
 * stay settling, and the next pass asks again.
 */
export const RECHECK_READS_PER_PASS = 20;
/** A line Stripe still showed pending after its date is asked about again after this long. */
export const RECHECK_BACKOFF_S = 600;
const DUE_BATCH = 1_000;
const PAGE = 100;

export interface RecheckResult {
  reads: number;
  /** Due lines whose answer was stored: available now, or pending with a later date. */
  answered: number;
  /** Due lines left for the next pass (the read bound, or a rate limit), of the last batch read. */
  left: number;
}

export interface RecheckOptions {
  /** The pass's read bound; tests lower it to reach the last read's branch. */
  maxReads?: number;
  /** Due lines read from Postgres at a time. */
  dueBatch?: number;
}

export async function recheckDueLines(
  deps: FlowDeps,
  now: number,
  o: RecheckOptions = {},
): Promise<RecheckResult> {
  const maxReads = o.maxReads ?? RECHECK_READS_PER_PASS;
  const batch = o.dueBatch ?? DUE_BATCH;
  const result: RecheckResult = { reads: 0, answered: 0, left: 0 };
  while (result.reads < maxReads) {
    const due = await dueLines(deps.db, now, batch, RECHECK_BACKOFF_S);
    if (due.length === 0) break;
    const batchDone = await recheckBatch(deps, now, due, maxReads, result);
    result.left = batchDone.left;
    // A batch left unanswered (the bound, a rate limit) ends the pass; a full batch answered
    // whole may have more behind it.
    if (batchDone.left > 0 || batchDone.limited || due.length < batch) break;
  }
  return result;
}

/** One batch of due lines, newest first, read within the pass's bound; adds to `result`. */
async function recheckBatch(
  deps: FlowDeps,
  now: number,
  lines: DueLine[],
  maxReads: number,
  result: RecheckResult,
): Promise<{ left: number; limited: boolean }> {
  let due = lines;
  const window = windowOf(due);
  let cursor: Cursor = { listed: false };
  while (due.length > 0 && result.reads < maxReads) {
    let seen: Stripe.BalanceTransaction[];
    try {
      result.reads += 1;
      // The last read of a pass that has answered nothing yet goes to the newest line by id, so
      // every pass answers one, however crowded the window.
      const lastChance = result.answered === 0 && result.reads === maxReads;
      if (cursor.listed || lastChance) {
        seen = [await deps.stripe.balanceTransactions.retrieve(due[0]!.id)];
      } else {
        const page = await deps.stripe.balanceTransactions.list({
          ...window,
          ...(cursor.after !== undefined && { starting_after: cursor.after }),
        });
        seen = page.data;
        cursor =
          page.has_more && seen.length > 0 ? { listed: false, after: seen.at(-1)!.id } : { listed: true };
      }
    } catch (err) {
      if (stripeRateLimit(err)) return { left: due.length, limited: true };
      throw err;
    }
    await refreshLines(
      deps.db,
      seen.map((t) => ({ id: t.id, status: t.status, availableOn: t.available_on })),
      now,
    );
    const ids = new Set(seen.map((t) => t.id));
    result.answered += due.filter((l) => ids.has(l.id)).length;
    due = due.filter((l) => !ids.has(l.id));
  }
  return { left: due.length, limited: false };
}

/** Where the pass is in the window: still listing it (from `after`), or read whole. */
type Cursor = { listed: false; after?: string } | { listed: true };

/**
 * The list call's parameters: every line created from the oldest due line to the newest, newest
 * first, filtered by type when every due line has one (card charges do), so other lines in the
 * window do not take the pages.
 */
function windowOf(due: readonly DueLine[]): Stripe.BalanceTransactionListParams {
  const newest = due[0];
  const oldest = due.at(-1);
  if (newest === undefined || oldest === undefined) return {};
  const type = due.every((l) => l.type === newest.type) ? newest.type : undefined;
  return {
    limit: PAGE,
    created: { gte: oldest.created, lte: newest.created },
    ...(type !== undefined && { type }),
  };
}
