import type { ForcedResult } from "./forced-phase.js";
import { correct, f0, f1, f2, table } from "./report.js";
import type { WithdrawalRun } from "./withdrawal-phase.js";

/** Tables for phases 3 (refunds and disputes) and 4 (withdrawal requests), in report.ts's style. */

/** A run's mismatches are listed, but a thoroughly broken run must not bury the rest of the report. */
const MAX_MISMATCH_LINES = 20;

export function forcedThroughputTable(r: ForcedResult): string {
  const t = r.throughput;
  return table(
    [
      "payments",
      "events",
      "post s",
      "total s",
      "events/s",
      "lag p50 ms",
      "lag p99 ms",
      "worker cpu ms/ev",
      "stripe calls/ev",
      "processed",
      "failed",
      "unfinished",
      "job retries",
      "deadlocks",
    ],
    [
      [
        String(r.payments),
        String(t.events),
        f2(t.postS),
        f2(t.totalS),
        f0(t.eventsPerS),
        f0(t.lagP50Ms),
        f0(t.lagP99Ms),
        f2(t.workerCpuMsPerEvent),
        f2(r.stripeCallsPerEvent),
        String(t.processed),
        String(t.failed),
        String(t.unfinished),
        String(t.jobRetries),
        String(t.deadlocks),
      ],
    ],
    0,
  );
}

export function forcedExact(r: ForcedResult): boolean {
  return (
    correct(r.throughput) &&
    r.creditExact &&
    r.stray === 0 &&
    r.mismatches.length === 0 &&
    r.lifecycles.every((l) => l.exactPayments === l.payments)
  );
}

export function forcedBalancesTable(r: ForcedResult): string {
  const t = r.throughput;
  const lines = [
    table(
      ["lifecycle", "payments", "events", "leaves minor", "exact payments"],
      r.lifecycles.map((l) => [
        l.name,
        String(l.payments),
        String(l.events),
        String(l.expectAvailable),
        `${l.exactPayments}/${l.payments}`,
      ]),
    ),
    `wallets: expected ${t.expectedMinor}, available ${t.creditedMinor}, exact ${t.exactWallets}/${t.wallets}; ` +
      `invariants ${t.invariantsOk ? "ok" : `${t.violations} violations`}; negative ${t.negativeBalances}; ` +
      `crediting first ${r.creditExact ? "exact" : "NOT exact"}; stray events ${r.stray}`,
    `result: ${forcedExact(r) ? "EXACT" : "WRONG"}`,
  ];
  for (const m of r.mismatches.slice(0, MAX_MISMATCH_LINES)) lines.push(`  mismatch: ${m}`);
  if (r.mismatches.length > MAX_MISMATCH_LINES)
    lines.push(`  … and ${r.mismatches.length - MAX_MISMATCH_LINES} more (all in the JSON)`);
  return lines.join("\n");
}

export function withdrawalExact(r: WithdrawalRun): boolean {
  return r.invariantsOk && r.exactWallets === r.wallets && r.heldMinor === r.expectedHeldMinor;
}

export function withdrawalTable(runs: WithdrawalRun[]): string {
  const lines = [
    table(
      [
        "wallets",
        "requests",
        "conns",
        "s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "web cpu ms/req",
        "expected held",
        "held",
        "exact wallets",
        "invariants",
        "result",
      ],
      runs.map((r) => [
        String(r.wallets),
        String(r.requests),
        String(r.connections),
        f2(r.seconds),
        f0(r.rps),
        f2(r.p50Ms),
        f2(r.p99Ms),
        f1(r.maxMs),
        String(r.errors),
        f2(r.webCpuMsPerReq),
        String(r.expectedHeldMinor),
        String(r.heldMinor),
        `${r.exactWallets}/${r.wallets}`,
        r.invariantsOk ? "ok" : `${r.violations} violations`,
        withdrawalExact(r) ? "EXACT" : "WRONG",
      ]),
    ),
    "errors: any answer but 201; held is checked against the 201s actually received.",
  ];
  for (const r of runs.filter((x) => x.errors > 0))
    lines.push(`  ${r.wallets} wallet(s) statuses: ${JSON.stringify(r.statuses)}`);
  return lines.join("\n");
}
