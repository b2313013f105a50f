import { withAdvisoryLock } from "../db/advisory-lock.js";
import {
  checkLines,
  clearDiscrepancies,
  missingKeys,
  missingPostingDiscrepancies,
  setDiscrepancyReasons,
  unknownPayments,
  type LineCounts,
  type LineCut,
} from "../db/stores/line-check.js";
import {
  finishRun,
  getRun,
  markRunning,
  runSnapshots,
  saveSnapshots,
  type HealedEvent,
  type RunRow,
  type SnapshotRow,
} from "../db/stores/reconciliation.js";
import { withTransaction } from "../db/transaction.js";
import { claimObjectId } from "../ledger/claims.js";
import { DomainError } from "../ledger/errors.js";
import type { Queues } from "../queue/queues.js";
import type { FlowDeps } from "./deps.js";
import { balanceSnapshots } from "./reconcile-balance.js";
import { healMissing, missingReason, type HealResult } from "./reconcile-heal.js";
import { followBalanceStream, type StreamProgress } from "./reconcile-stream.js";

/** One advisory lock key for every reconciliation in the database: two runs never overlap. */
export const RECONCILIATION_LOCK = 0x636f6666; // "coff"

export type ReconcileDeps = FlowDeps & { queues: Queues };

export interface RunOptions {
  healWaitMs: number;
  onPage?: (p: StreamProgress) => void;
}

export interface RunReport {
  run: RunRow;
  snapshots: SnapshotRow[];
}

/**
 * Runs one reconciliation: follow the stream, check the lines, heal what events can
 * heal, check again, then compare balances. A finished run (matched or mismatch)
 * is not redone; a queued, running (its worker died) or failed one starts over,
 * replacing its findings, and books nothing twice because every booking is keyed.
 * Another run holding the lock makes this throw `reconciliation_busy` (transient).
 */
export async function runReconciliation(
  deps: ReconcileDeps,
  runId: string,
  o: RunOptions,
): Promise<RunReport> {
  const locked = await withAdvisoryLock(deps.db, RECONCILIATION_LOCK, () => runLocked(deps, runId, o));
  if (!locked.acquired) {
    throw new DomainError("reconciliation_busy", "another reconciliation run is in progress", {}, false);
  }
  return locked.value;
}

async function runLocked(deps: ReconcileDeps, runId: string, o: RunOptions): Promise<RunReport> {
  const run = await getRun(deps.db, runId);
  if (!run) throw new DomainError("not_found", `no reconciliation run ${runId}`);
  if (run.status === "matched" || run.status === "mismatch") {
    return { run, snapshots: await runSnapshots(deps.db, runId) };
  }
  const log = deps.log.child({ run_id: runId });
  await markRunning(deps.db, runId);
  try {
    const stream = await followBalanceStream(deps, {
      onPage: o.onPage,
      // The whole window, whatever the workers' passes already read: the run is the proof, and a
      // line Stripe listed late behind a pass's short overlap is found here.
      from: Math.floor(run.window_start.getTime() / 1000),
    });
    const { cut: streamCut, startedAt, ...read } = stream;
    log.info(
      { ...read, conflicts: read.conflicts.length, cut_created: streamCut.createdS },
      "balance transactions read",
    );
    // Postings stamped before the pass's first page were for lines already made (resumed: the
    // first page of the pass it went on with).
    const cut: LineCut = { linesUpToS: streamCut.createdS, postingsBefore: startedAt };
    let counts = await checkAfresh(deps, run, cut);
    let healed: HealedEvent[] = [];
    const missing = await missingKeys(deps.db, runId);
    const unknown = await unknownPayments(deps.db, runId);
    if (missing.length > 0 || unknown.length > 0) {
      const heal = await healMissing(deps, missing, o.healWaitMs, unknown);
      healed = heal.healed;
      // Also after waiting for events that were only on the way: their lines are counted again.
      counts = await checkAfresh(deps, run, cut);
      await explainMissing(deps, runId, heal.found, o.healWaitMs);
    }
    const snapshots = await balanceSnapshots(deps, run, counts, healed.length, streamCut);
    const status = snapshots.every((s) => s.status === "matched") ? "matched" : "mismatch";
    const totals = sumCounts(counts);
    await withTransaction(deps.db, async (trx) => {
      await saveSnapshots(trx, snapshots);
      await finishRun(trx, runId, { status, counts: totals, healed });
    });
    report(deps, log, snapshots, totals);
    return { run: (await getRun(deps.db, runId))!, snapshots };
  } catch (err) {
    await finishRun(deps.db, runId, { status: "failed", error: String(err) }).catch(() => undefined);
    throw err;
  }
}

/** Each line still without its posting is reported with where the event that books it stands. */
async function explainMissing(
  deps: FlowDeps,
  runId: string,
  found: HealResult["found"],
  waitMs: number,
): Promise<void> {
  const rows = await missingPostingDiscrepancies(deps.db, runId);
  const reasons = rows.flatMap((d) => {
    const reason = missingReason(d.ledger_key, found.get(claimObjectId(d.ledger_key)), waitMs);
    return reason === null ? [] : [{ id: d.id, reason }];
  });
  await setDiscrepancyReasons(deps.db, reasons);
}

async function checkAfresh(deps: FlowDeps, run: RunRow, cut: LineCut): Promise<LineCounts[]> {
  return withTransaction(deps.db, async (trx) => {
    await clearDiscrepancies(trx, run.id);
    return checkLines(trx, run.id, run.window_start, run.window_end, cut);
  });
}

function sumCounts(counts: readonly LineCounts[]) {
  const total = { stripeMatched: 0, stripeUnmatched: 0, ledgerMatched: 0, ledgerUnmatched: 0 };
  for (const c of counts) {
    total.stripeMatched += c.stripeMatched;
    total.stripeUnmatched += c.stripeUnmatched;
    total.ledgerMatched += c.ledgerMatched;
    total.ledgerUnmatched += c.ledgerUnmatched;
  }
  return total;
}

/** Metrics for Prometheus, and one alert line per currency that does not match. */
function report(
  deps: FlowDeps,
  log: FlowDeps["log"],
  snapshots: readonly SnapshotRow[],
  totals: ReturnType<typeof sumCounts>,
): void {
  deps.metrics.reconciliationUnmatched.set({ side: "stripe" }, totals.stripeUnmatched);
  deps.metrics.reconciliationUnmatched.set({ side: "ledger" }, totals.ledgerUnmatched);
  for (const s of snapshots) {
    deps.metrics.reconciliationDifference.set({ currency: s.currency }, s.difference_minor);
    if (s.status === "mismatch") {
      log.error(
        {
          alert: true,
          currency: s.currency,
          difference_minor: s.difference_minor,
          stripe_unmatched: s.stripe_unmatched,
          ledger_unmatched: s.ledger_unmatched,
        },
        "reconciliation mismatch: the books do not match Stripe's",
      );
    }
  }
  log.info({ ...totals, currencies: snapshots.length }, "reconciliation finished");
}
