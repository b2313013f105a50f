import { writeFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { Cleanup } from "./bench/env.js";
import type { ProfileSummary } from "./bench/cpu-profile.js";
import { STANDIN_MODES } from "./bench/reconcile-env.js";
import { benchSize, type SizeResult } from "./bench/reconcile-phase.js";
import { f0, f1, f2, table } from "./bench/report.js";

/**
 * `npm run bench:reconcile [-- --sizes 10000,100000 --profile]`: issue 7's
 * benchmark. For each size, one UTC day of that many balance transactions in the
 * stand-in against ten times as many ledger entries in a throwaway database;
 * first both sides are read once (the floor), then the day is reconciled
 * in-process with runReconciliation, as the worker runs it. Reports wall and CPU
 * time (this process, the stand-in's, Postgres's), peak RSS and its rise over
 * the phase's start, the heap a phase kept, and the run's result. Target at
 * 100,000 lines: within 30 s, and memory that does not grow with the day's size.
 *
 * A report, not a test: it exits 0 whatever the numbers are, 1 only if it could
 * not run. Progress goes to stderr, tables to stdout, JSON to a file
 * (bench-reconciliation.json, ignored by git; or --json / BENCH_JSON).
 * - `--profile [path]`: a CPU profile of the largest size's reconciliation
 *   (/tmp by default), and where its time went.
 * - `--standin inproc`: the stand-in in this process instead of its own; its
 *   store then counts in the RSS and its serving in the CPU.
 * - `--cold`: the mirror tables empty, as on the first run on a database; by
 *   default they hold the day before, as a live database's do.
 */
const env = process.env;
const stamp = () => new Date().toISOString().replaceAll(":", "-");

/** A bare `--profile` (no path after it) profiles to /tmp: parseArgs itself wants a value. */
function withProfileDefault(args: string[]): string[] {
  return args.map((a, i) =>
    a === "--profile" && (args[i + 1] === undefined || args[i + 1]!.startsWith("--"))
      ? `--profile=/tmp/coffer-reconcile-${stamp()}.cpuprofile`
      : a,
  );
}
const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: env.BENCH_RECONCILE_SIZES ?? "10000,100000" },
    "entries-per-line": { type: "string", default: env.BENCH_RECONCILE_ENTRIES_PER_LINE ?? "10" },
    users: { type: "string", default: env.BENCH_RECONCILE_USERS ?? "1000" },
    json: { type: "string", default: env.BENCH_JSON ?? "bench-reconciliation.json" },
    profile: { type: "string", default: env.BENCH_CPU_PROFILE },
    cold: { type: "boolean", default: env.BENCH_RECONCILE_COLD === "1" },
    standin: { type: "string", default: env.BENCH_RECONCILE_STANDIN ?? "child" },
  },
  args: withProfileDefault(process.argv.slice(2)),
});
const sizes = values.sizes
  .split(",")
  .map((s) => Number(s.trim()))
  .sort((a, b) => a - b);
const entriesPerLine = Number(values["entries-per-line"]);
const users = Number(values.users);
const standin =
  STANDIN_MODES.find((m) => m === values.standin) ?? fail(`--standin is one of ${STANDIN_MODES}`);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !(entriesPerLine >= 4) || !(users >= 1)) {
  throw new Error("--sizes are positive integers, --entries-per-line at least 4, --users at least 1");
}
const TARGET_S = 30;

function fail(message: string): never {
  throw new Error(message);
}

const log = (msg: string) => process.stderr.write(`[bench:reconcile] ${msg}\n`);
const out = (text = "") => process.stdout.write(`${text}\n`);
const s1 = (ms: number) => f1(ms / 1000);
let active: Cleanup | undefined;

function sizeTable(r: SizeResult): string {
  const row = (name: string, m: SizeResult["floor"] | SizeResult["reconcile"]) => [
    name,
    s1(m.wallMs),
    s1(m.cpuMs),
    s1(m.standinCpuMs),
    s1(m.pgCpuMs),
    f0(m.rssStartMb),
    f0(m.rssPeakMb),
    f0(m.rssGrowthMb),
    f0(m.heapPeakMb),
    f0(Math.round(m.heapRetainedMb) || 0),
  ];
  return table(
    [
      "phase",
      "wall s",
      "cpu s",
      "stand-in cpu s",
      "pg cpu s",
      "rss start MB",
      "rss peak MB",
      "rise MB",
      "heap peak MB",
      "heap kept MB",
    ],
    [row("floor (read both sides once)", r.floor), row("reconcile", r.reconcile)],
  );
}

function breakdownTable(r: SizeResult): string {
  const f = r.floor;
  const c = r.reconcile;
  const rows = [
    ["floor: page the stand-in (SDK, expand)", "", s1(f.pagingMs), String(f.pages)],
    ["floor: read wallet_ledger once", "", s1(f.ledgerReadMs), "1"],
    ["reconcile: stream (page, toLines, savePage)", "", s1(c.streamMs), String(c.pages)],
    ["reconcile: after the stream (line check, snapshots)", "", s1(c.wallMs - c.streamMs), ""],
    ...c.sql.map((q) => ["  sql", q.label, Number.isNaN(q.ms) ? "-" : f2(q.ms / 1000), String(q.count)]),
  ];
  return table(["step", "statement", "s", "count"], rows, 2);
}

/** Time per stretch of pages and memory at its end: flat rows are a stream that does not degrade. */
function progressTable(r: SizeResult): string {
  const marks = r.reconcile.progress;
  return table(
    ["pages", "s", "ms per page", "rss MB", "heap MB"],
    marks.map((m, i) => {
      const prev = marks[i - 1] ?? { page: 0, atMs: 0 };
      return [
        String(m.page),
        s1(m.atMs),
        f1((m.atMs - prev.atMs) / (m.page - prev.page)),
        f0(m.rssMb),
        f0(m.heapMb),
      ];
    }),
  );
}

function resultLine(r: SizeResult): string {
  const x = r.result;
  return (
    `result: ${x.status}; stripe ${x.stripeMatched} matched, ${x.stripeUnmatched} unmatched; ` +
    `ledger ${x.ledgerMatched} matched, ${x.ledgerUnmatched} unmatched; discrepancies ${x.discrepancies}; ` +
    `booked ${x.booked}; conflicts ${x.conflicts}; healed ${x.healed}; difference ${x.differenceMinor.join(",")}`
  );
}

function scalingTable(results: SizeResult[]): string {
  return table(
    [
      "lines",
      "entries",
      "floor s",
      "reconcile s",
      "ratio",
      "floor rise MB",
      "reconcile rise MB",
      "rss peak MB",
      "status",
    ],
    results.map((r) => [
      String(r.lines),
      String(r.entries),
      s1(r.floor.wallMs),
      s1(r.reconcile.wallMs),
      f2(r.reconcile.wallMs / r.floor.wallMs),
      f0(r.floor.rssGrowthMb),
      f0(r.reconcile.rssGrowthMb),
      f0(r.reconcile.rssPeakMb),
      r.result.status,
    ]),
  );
}

function profileTables(p: ProfileSummary): string {
  const pct = (ms: number) => f1((100 * ms) / p.totalMs);
  return [
    table(
      ["area (nearest frame on the stack)", "cpu s", "%"],
      p.byArea.map((a) => [a.area, s1(a.ms), pct(a.ms)]),
    ),
    "",
    table(
      ["function (self time)", "cpu s", "%"],
      p.topSelf.map((a) => [a.fn, s1(a.ms), pct(a.ms)]),
    ),
  ].join("\n");
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const load = () =>
    os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(" ");
  const loadAtStart = load();
  const results: SizeResult[] = [];
  for (const [i, lines] of sizes.entries()) {
    active = new Cleanup();
    try {
      const profilePath = i === sizes.length - 1 ? values.profile : undefined;
      const cold = values.cold;
      results.push(
        await benchSize(active, { lines, entriesPerLine, users, cold, standin, profilePath, log }),
      );
    } finally {
      await active.run(log);
    }
  }
  const cpus = `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}`;
  out();
  out(`Coffer reconciliation bench, ${startedAt}, node ${process.version}, ${cpus}`);
  out(`load average at start ${loadAtStart}, at end ${load()}`);
  for (const r of results) {
    out();
    out(`One day: ${r.lines} balance transactions against ${r.entries} ledger entries, ${r.users} users`);
    out(
      r.cold
        ? "database: new, the mirror tables empty (--cold: the first run on a database)"
        : "database: the previous day already mirrored, statistics current (a live database)",
    );
    out(
      `stand-in: ${r.standin === "child" ? "its own process" : "this process (its CPU and store counted here)"}; ` +
        `seed: stand-in ${s1(r.seedMs.standin)} s, ledger ${s1(r.seedMs.ledger)} s (not timed below)`,
    );
    out(sizeTable(r));
    out(`ratio reconcile/floor (wall): ${f2(r.reconcile.wallMs / r.floor.wallMs)}`);
    out(resultLine(r));
    out();
    out(breakdownTable(r));
    out();
    out("Reconcile stream, as the day goes on");
    out(progressTable(r));
  }
  out();
  out(`Memory and time against the day's size (target: ${TARGET_S} s at 100,000 lines, flat memory)`);
  out(scalingTable(results));
  const profile = results.at(-1)?.reconcile.profile;
  if (profile) {
    out();
    out(
      `CPU profile of the ${results.at(-1)?.lines}-line reconciliation (${s1(profile.totalMs)} s sampled): ${profile.path}`,
    );
    out(profileTables(profile));
  }
  writeFileSync(
    values.json,
    `${JSON.stringify({ startedAt, loadAtStart, node: process.version, cpus, results }, null, 2)}\n`,
  );
  out();
  out(`JSON: ${values.json}`);
  const bad = results.filter((r) => r.result.status !== "matched" || r.result.discrepancies !== 0);
  if (bad.length > 0)
    log(`not a matched day at ${bad.map((r) => r.lines).join(", ")} lines: see the result lines`);
}

// `on`, not `once`: tsx forwards the signal a process group already got, and a second one must
// not kill the bench half-way through dropping its database.
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: cleaning up`);
    void (active?.run(log) ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (err) {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await active?.run(log);
  // Anything a failed step left open (a socket retrying forever) must not keep the bench alive.
  process.exit();
}
