import { withAdvisoryLock } from "../db/advisory-lock.js";
import { booksBegan, cursorAgeMs } from "../db/stores/balance-transactions.js";
import { recheckDueLines, type RecheckResult } from "./balance-recheck.js";
import { nowOf, type FlowDeps } from "./deps.js";
import { RECONCILIATION_LOCK } from "./reconcile-run.js";
import { stripeRateLimit } from "../stripe/errors.js";
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
 *
 * Each pass then asks Stripe again about the lines Coffer still holds as pending whose
 * `available_on` has come (src/flows/balance-recheck.ts: while lines are due, at most 20 reads): a
 * credit settles only once Stripe's answer is stored, so a date Stripe pushed back is never taken
 * as settled.
 */
const FOLLOW_OVERLAP_S = 2;

/**
 * One pass, unless another reader (a run, or another worker's pass) moved the cursor
 * less than `minGapMs` ago: every worker ticks, but the stream needs reading once.
 */
export async function followWhenIdle(
  deps: FlowDeps,
  minGapMs: number,
): Promise<(StreamResult & { recheck: RecheckResult }) | "skipped"> {
  const locked = await withAdvisoryLock(deps.db, RECONCILIATION_LOCK, async () => {
    if ((await cursorAgeMs(deps.db)) < minGapMs) return "skipped" as const;
    // Before Coffer's first posting every line counts as the legacy system's (booksBegan); a pass
    // then would file the first payments' lines as such and move the cursor past them for good.
    if ((await booksBegan(deps.db)) === Number.MAX_SAFE_INTEGER) return "skipped" as const;
    const followed = await followBalanceStream(deps, { overlapS: FOLLOW_OVERLAP_S });
    const recheck = await recheckDueLines(deps, Math.floor(nowOf(deps).getTime() / 1000));
    return { ...followed, recheck };
  });
  return locked.acquired ? locked.value : "skipped";
}

/**
 * One failed pass is a warning: the next tick tries again and loses nothing. Passes that keep
 * failing for another reason than a rate limit (Stripe refusing the key, a line it no longer
 * knows, the database) need a person: card funds stay settling, and withdrawals refused, until
 * a pass succeeds. So the FOLLOW_FAILURES_TO_ALERT-th failure in a row, and each one after it, is
 * an error with `alert: true`. A rate limit is the shared Stripe budget at work: it neither
 * alerts nor counts.
 */
export const FOLLOW_FAILURES_TO_ALERT = 3;

/** Logs a failed pass at the level its run of failures calls for; returns the new run's length. */
export function followFailed(deps: Pick<FlowDeps, "log">, err: unknown, failuresBefore: number): number {
  if (stripeRateLimit(err)) {
    deps.log.warn({ err }, "following the balance stream was rate limited; will try again");
    return failuresBefore;
  }
  const failures = failuresBefore + 1;
  if (failures >= FOLLOW_FAILURES_TO_ALERT)
    deps.log.error(
      { err, failures, alert: true },
      "following the balance stream keeps failing: card funds stay settling until it succeeds",
    );
  else deps.log.warn({ err, failures }, "following the balance stream failed; will try again");
  return failures;
}
