import { withAdvisoryLock } from "../db/advisory-lock.js";
import { booksBegan, cursorAgeMs } from "../db/stores/balance-transactions.js";
import type { FlowDeps } from "./deps.js";
import { RECONCILIATION_LOCK } from "./reconcile-run.js";
import { followBalanceStream, type StreamResult } from "./reconcile-stream.js";

/**
 * Between reconciliation runs, the stream is followed every minute or so, so that
 * Stripe's fees and conversions reach the books soon after the payment instead of
 * at the next daily run. Handlers no longer fetch them one payment at a time; this
 * reads them 100 to a page.
 *
 * Each pass re-reads only two seconds before the cursor, so that at volume it
 * costs about one page per hundred new lines. What it misses because Stripe listed
 * a line late, the day's run still finds: a run reads its whole window. The pass
 * takes the reconciliation lock without waiting: while a run (or another worker's
 * pass) holds it, this pass is skipped.
 */
const FOLLOW_OVERLAP_S = 2;

/**
 * One pass, unless another reader (a run, or another worker's pass) moved the cursor
 * less than `minGapMs` ago: every worker ticks, but the stream needs reading once.
 */
export async function followWhenIdle(deps: FlowDeps, minGapMs: number): Promise<StreamResult | "skipped"> {
  const locked = await withAdvisoryLock(deps.db, RECONCILIATION_LOCK, async () => {
    if ((await cursorAgeMs(deps.db)) < minGapMs) return "skipped" as const;
    // Before Coffer's first posting every line counts as the legacy system's (booksBegan); a pass
    // then would file the first payments' lines as such and move the cursor past them for good.
    if ((await booksBegan(deps.db)) === Number.MAX_SAFE_INTEGER) return "skipped" as const;
    return followBalanceStream(deps, { overlapS: FOLLOW_OVERLAP_S });
  });
  return locked.acquired ? locked.value : "skipped";
}
