import { MAX_P99_RATIO, MIN_RPS_RATIO, type IngestionCell, type IngestionRun } from "./ingestion.js";
import type { ThroughputResult } from "./throughput.js";

/**
 * Plain fixed-width tables: the bench is read in a terminal or a CI log, not a
 * browser. The first `textCols` columns are labels (left-aligned); the rest are
 * numbers, right-aligned so their digits line up.
 */
export function table(head: string[], rows: string[][], textCols = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < textCols ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "-");
export const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
export const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");
/** CPU per request reads best in µs: a few hundred, where ms would show 0.31. */
const us = (ms: number) => f0(ms * 1000);

export function ingestionRunsTable(runs: IngestionRun[]): string {
  return table(
    [
      "round",
      "server",
      "conns",
      "req/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "errors",
      "cpu µs/req",
      "cpu %",
      "inline-signed",
    ],
    runs.map((r) => [
      String(r.round),
      r.server,
      String(r.connections),
      f0(r.rps),
      f2(r.p50Ms),
      f2(r.p99Ms),
      f1(r.maxMs),
      String(r.errors),
      us(r.serverCpuMsPerReq),
      f0(r.serverCpuPct),
      String(r.inlineSigned),
    ]),
    3,
  );
}

export function ingestionSummaryTable(cells: IngestionCell[]): string {
  const rows: string[][] = [];
  for (const c of cells) {
    for (const r of [c.baseline, c.coffer])
      rows.push([
        String(c.connections),
        r.server,
        f0(r.rps),
        f2(r.p50Ms),
        f2(r.p99Ms),
        String(r.errors),
        us(r.serverCpuMsPerReq),
        "",
      ]);
    rows.push([
      "",
      "coffer/baseline",
      `${f2(c.rpsRatio)}x`,
      "",
      `${f2(c.p99Ratio)}x`,
      "",
      `${f2(c.cpuRatio)}x`,
      c.pass ? "PASS" : "FAIL",
    ]);
  }
  return [
    table(["conns", "server", "req/s", "p50 ms", "p99 ms", "errors", "cpu µs/req", "goal"], rows, 2),
    `goal: Coffer req/s >= ${MIN_RPS_RATIO * 100}% of baseline and p99 <= ${MAX_P99_RATIO}x baseline, no errors`,
    "cpu µs/req: the server process's own CPU per request (not Postgres's or Redis's); it is the",
    "least noise-sensitive column when other work shares the machine.",
  ].join("\n");
}

export function throughputTable(results: ThroughputResult[]): string {
  return table(
    [
      "wallets",
      "events",
      "post s",
      "total s",
      "events/s",
      "lag p50 ms",
      "lag p99 ms",
      "worker cpu ms/ev",
      "stripe reads/ev",
      "processed",
      "failed",
      "unfinished",
    ],
    results.map((r) => [
      String(r.wallets),
      String(r.events),
      f2(r.postS),
      f2(r.totalS),
      f0(r.eventsPerS),
      f0(r.lagP50Ms),
      f0(r.lagP99Ms),
      f2(r.workerCpuMsPerEvent),
      f2(r.stripeReadsPerEvent),
      String(r.processed),
      String(r.failed),
      String(r.unfinished),
    ]),
  );
}

export function correctnessTable(results: ThroughputResult[]): string {
  return table(
    [
      "wallets",
      "expected minor",
      "credited minor",
      "exact wallets",
      "invariants",
      "negative",
      "job retries",
      "deadlocks",
      "result",
    ],
    results.map((r) => [
      String(r.wallets),
      String(r.expectedMinor),
      String(r.creditedMinor),
      `${r.exactWallets}/${r.wallets}`,
      r.invariantsOk ? "ok" : `${r.violations} violations`,
      String(r.negativeBalances),
      String(r.jobRetries),
      String(r.deadlocks),
      correct(r) ? "EXACT" : "WRONG",
    ]),
  );
}

export function correct(r: ThroughputResult): boolean {
  return (
    r.invariantsOk &&
    r.expectedMinor === r.creditedMinor &&
    r.exactWallets === r.wallets &&
    r.failed === 0 &&
    r.unfinished === 0 &&
    r.postLost === 0
  );
}
