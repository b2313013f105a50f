import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Db } from "../../src/db/knex.js";

/**
 * What one phase of the reconciliation bench cost: wall time; CPU of this
 * process, of the stand-in's (NaN when it runs in this one) and of the Postgres
 * backends of the bench's database; and memory. RSS is sampled every 50 ms; its
 * rise over the start of the phase is the phase's working set, whatever the
 * process held before (a stand-in's store, in-process).
 */
export interface Measured {
  wallMs: number;
  cpuMs: number;
  standinCpuMs: number;
  pgCpuMs: number;
  rssStartMb: number;
  rssPeakMb: number;
  /** Peak minus start: what the phase itself needed. */
  rssGrowthMb: number;
  heapPeakMb: number;
  /** Heap still live after a full collection at the end, over the same at the start: what the phase kept. */
  heapRetainedMb: number;
}

export interface Probes {
  pg: PgCpu;
  standinCpuMs(): number;
}

const MB = 1024 * 1024;
const SAMPLE_MS = 50;

// A full collection before each phase, so its starting RSS is not the last phase's garbage.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

export async function measure<T>(
  probes: Probes,
  fn: () => Promise<T>,
): Promise<{ value: T; cost: Measured }> {
  gc();
  const heapStart = process.memoryUsage().heapUsed;
  const rssStart = process.memoryUsage.rss();
  let rssPeak = rssStart;
  let heapPeak = process.memoryUsage().heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  };
  const timer = setInterval(sample, SAMPLE_MS);
  const pgStart = probes.pg.start();
  const standin0 = probes.standinCpuMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const value = await fn();
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const standinCpuMs = probes.standinCpuMs() - standin0;
    sample();
    const pgCpuMs = pgStart.stop();
    gc();
    return {
      value,
      cost: {
        wallMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
        standinCpuMs,
        pgCpuMs,
        rssStartMb: rssStart / MB,
        rssPeakMb: rssPeak / MB,
        rssGrowthMb: (rssPeak - rssStart) / MB,
        heapPeakMb: heapPeak / MB,
        heapRetainedMb: (process.memoryUsage().heapUsed - heapStart) / MB,
      },
    };
  } finally {
    clearInterval(timer);
  }
}

// Linux counts process CPU in clock ticks of 1/100 s (USER_HZ) on every common build.
const TICK_MS = 10;

/**
 * CPU of the Postgres backends serving one database, from /proc: backends name
 * their database in their title (`postgres: root coffer_bench_… 127.0.0.1(…)`).
 * Each is read every half second and its last reading kept, so a backend that
 * exits mid-phase loses at most that much. NaN where /proc does not show Postgres.
 */
export class PgCpu {
  constructor(private readonly dbName: string) {}

  private read(): Map<number, number> {
    const out = new Map<number, number>();
    let pids: string[];
    try {
      pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
    } catch {
      return out;
    }
    for (const pid of pids) {
      try {
        const title = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        if (!title.startsWith("postgres: ") || !title.includes(` ${this.dbName} `)) continue;
        // Fields after the parenthesised name: state is 3rd, utime 14th, stime 15th (1-based).
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        out.set(Number(pid), (Number(fields[11]) + Number(fields[12])) * TICK_MS);
      } catch {
        // The process exited between the listing and the read.
      }
    }
    return out;
  }

  start(): { stop(): number } {
    const first = this.read();
    const last = new Map(first);
    const poll = () => {
      for (const [pid, ms] of this.read()) last.set(pid, ms);
    };
    const timer = setInterval(poll, 500);
    return {
      stop: () => {
        clearInterval(timer);
        poll();
        if (last.size === 0) return Number.NaN;
        let total = 0;
        for (const [pid, ms] of last) total += ms - (first.get(pid) ?? 0);
        return total;
      },
    };
  }
}

/** Statement families the reconciliation runs, by how their SQL begins. */
const LABELS: Array<[RegExp, string]> = [
  [/^SELECT idempotency_key, input_hash/, "postedHashes (per page)"],
  [/^INSERT INTO stripe_balance_transactions\b/, "saveLines: lines (per page)"],
  [/^INSERT INTO stripe_balance_transaction_claims/, "saveLines: claims (per page)"],
  [/^WITH lines AS/, "checkLines: Stripe side"],
  [/^WITH l AS/, "checkLines: ledger side"],
  [/^delete from "reconciliation_discrepancies"/i, "clearDiscrepancies"],
  [/^SELECT d\.stripe_id/, "missingKeys"],
  [/^SELECT currency, account, sum/, "ledgerPositions"],
  [/^(BEGIN|COMMIT|ROLLBACK)/i, "BEGIN/COMMIT"],
];

export interface SqlTotal {
  label: string;
  count: number;
  ms: number;
}

/**
 * Time inside each statement family, from knex's query events: from the
 * `query` event to its response. knex sends BEGIN and COMMIT without a
 * response event, so those are counted but not timed.
 */
export function sqlTimer(db: Db): { totals(): SqlTotal[]; stop(): void } {
  const open = new Map<string, { label: string; t0: number }>();
  const totals = new Map<string, SqlTotal>();
  const labelOf = (sql: string) => {
    const text = sql.trimStart();
    return LABELS.find(([re]) => re.test(text))?.[1] ?? `other: ${text.slice(0, 40).replace(/\s+/g, " ")}`;
  };
  const add = (label: string, ms: number) => {
    const t = totals.get(label) ?? { label, count: 0, ms: 0 };
    t.count += 1;
    t.ms += ms;
    totals.set(label, t);
  };
  const onQuery = (q: { sql: string; __knexQueryUid?: string }) => {
    const label = labelOf(q.sql);
    if (q.__knexQueryUid === undefined) add(label, Number.NaN);
    else open.set(q.__knexQueryUid, { label, t0: performance.now() });
  };
  const onDone = (_r: unknown, q: { __knexQueryUid?: string }) => {
    const started = q.__knexQueryUid === undefined ? undefined : open.get(q.__knexQueryUid);
    if (!started || q.__knexQueryUid === undefined) return;
    open.delete(q.__knexQueryUid);
    add(started.label, performance.now() - started.t0);
  };
  db.on("query", onQuery);
  db.on("query-response", onDone);
  db.on("query-error", onDone);
  return {
    totals: () => [...totals.values()].sort((a, b) => (b.ms || 0) - (a.ms || 0)),
    stop() {
      db.off("query", onQuery);
      db.off("query-response", onDone);
      db.off("query-error", onDone);
    },
  };
}
