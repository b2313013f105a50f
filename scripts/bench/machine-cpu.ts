import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";

/**
 * Where a posting's CPU goes across the whole machine, not only in the worker. Webhook to balance
 * runs the web, the worker, Postgres, Redis and the bench's own client on the same cores; the raw
 * SQL baseline runs only Postgres and pgbench. When the machine is busy through a run, the cores
 * divided by the CPU each event costs is the ceiling on events per second, and the split says
 * which process to make cheaper. Linux only (/proc); elsewhere every figure is NaN.
 */
export interface CpuSplit {
  /** CPU ms per event, by process group; `other` is the machine's busy time no group accounts for. */
  perEvent: Record<"web" | "worker" | "postgres" | "redis" | "client" | "other" | "total", number>;
  /** Busy share of all cores over the run, 0..1: near 1 means the machine's CPU was the limit. */
  busy: number;
  /** Events per second the machine's cores could carry at this cost per event. */
  ceilingPerS: number;
}

export interface CpuMark {
  at: number;
  machineBusyMs: number;
  byName: Record<string, number>;
  own: Record<string, number>;
}

/** Process names counted as groups of their own, summed over every process of that name. */
const NAMED = { postgres: ["postgres"], redis: ["redis-server"], client: ["pgbench"] } as const;

/** `own`: CPU ms so far of processes the bench spawned itself, by group (web, worker). */
export function cpuMark(own: Record<string, number>): CpuMark {
  const byName: Record<string, number> = {};
  for (const [group, names] of Object.entries(NAMED)) byName[group] = namedCpuMs(names);
  // The bench itself, and what it ran and reaped (pgbench's whole run lands in its cutime).
  byName.client! += statCpuMs("self");
  return { at: performance.now(), machineBusyMs: machineBusyMs(), byName, own };
}

export function cpuSplit(from: CpuMark, to: CpuMark, events: number): CpuSplit {
  const d = (a: number, b: number) => b - a;
  const group = (g: string) => d(from.byName[g] ?? from.own[g] ?? 0, to.byName[g] ?? to.own[g] ?? 0);
  const total = d(from.machineBusyMs, to.machineBusyMs);
  const parts = {
    web: group("web"),
    worker: group("worker"),
    postgres: group("postgres"),
    redis: group("redis"),
    client: group("client"),
  };
  const known = Object.values(parts).reduce((a, b) => a + b, 0);
  const per = (ms: number) => ms / events;
  const cores = os.cpus().length;
  return {
    perEvent: {
      web: per(parts.web),
      worker: per(parts.worker),
      postgres: per(parts.postgres),
      redis: per(parts.redis),
      client: per(parts.client),
      other: per(Math.max(0, total - known)),
      total: per(total),
    },
    busy: total / ((to.at - from.at) * cores),
    ceilingPerS: (cores * 1000) / per(total),
  };
}

/** The machine's busy CPU time since boot: every state in /proc/stat's first line but idle and iowait. */
function machineBusyMs(): number {
  try {
    const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number) as number[];
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 10; // USER_HZ is 100
  } catch {
    return Number.NaN;
  }
}

/** Every process of these names, summed. */
function namedCpuMs(names: readonly string[]): number {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return Number.NaN;
  }
  let ms = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat && names.includes(stat.name)) ms += stat.cpuMs;
  }
  return ms;
}

/** One process's CPU ms so far (its reaped children's too); NaN if it is gone or /proc is absent. */
export const statCpuMs = (pid: string) => readStat(pid)?.cpuMs ?? Number.NaN;

/**
 * A process's utime + stime, and the same of its children already reaped (an ended backend in
 * the postmaster's, a finished pgbench in the bench's). Fields count from the name's ")": the
 * name may contain spaces. After it, state is index 0, so utime..cstime are indexes 11 to 14.
 */
function readStat(pid: string): { name: string; cpuMs: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      cpuMs: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10,
    };
  } catch {
    return null; // the process ended between the listing and the read
  }
}
