import type { OwnRedis, Postgres } from "./cluster.js";
import type { CofferProcess, Processes } from "./processes.js";
import { sleep, stream } from "./random.js";
import type { StripeFaults } from "./stripe-faults.js";

/**
 * The fault schedule, a pure function of (seed, window, workers), and the runner that plays it
 * while the workload runs:
 * - a worker SIGKILLed every 10–30 s (which one, how long it stays down and the gap to the next,
 *   from the seed), then started again; the next kill waits until the last one's worker has
 *   been back for RECOVERED_MS. On a loaded machine a worker takes longer than 30 s to start,
 *   and kills timed by the clock alone met each worker as soon as it was up, so none worked;
 * - Redis SIGKILLed and started empty, twice (it keeps no RDB or AOF);
 * - Postgres stopped with `-m immediate` (every backend killed, WAL replayed) and started, once;
 * - the web process restarted once (SIGTERM, as a deploy does; SIGKILL if it does not drain);
 * - Stripe (the fault proxy) answering 5 % 500s and 2 % 429s and dropping 2 % of connections
 *   after acting, for the whole storm, on top of the stand-in's own rate limits.
 * Worker kills go on past the window while stories are still starting (a slow machine stretches
 * the workload, and the storm with it), so no story runs without faults.
 */
export type FaultKind = "worker_kill" | "redis_restart" | "postgres_crash" | "web_restart";

/** A one-off fault at a time in the window. */
export interface Fault {
  atMs: number;
  kind: Exclude<FaultKind, "worker_kill">;
  /** How long the component stays down before it is started again. */
  downMs: number;
}

export interface WorkerKill {
  /** Time from the previous kill (or the storm's start) to this one, at least. */
  gapMs: number;
  target: number;
  downMs: number;
}

export interface Schedule {
  faults: Fault[];
  /** Longer than any storm needs; the runner stops when the storm ends. */
  workerKills: WorkerKill[];
}

export function faultSchedule(seed: number, windowMs: number, workers: number): Schedule {
  const r = stream(seed, "faults");
  const workerKills = Array.from({ length: 500 }, () => ({
    gapMs: r.int(10_000, 30_000),
    target: r.int(0, workers - 1),
    downMs: r.int(300, 3_000),
  }));
  const at = (lo: number, hi: number) => Math.round(windowMs * (lo + r.next() * (hi - lo)));
  const faults: Fault[] = [
    { atMs: at(0.15, 0.3), kind: "redis_restart", downMs: r.int(1_000, 5_000) },
    { atMs: at(0.4, 0.5), kind: "postgres_crash", downMs: r.int(1_000, 4_000) },
    { atMs: at(0.6, 0.72), kind: "redis_restart", downMs: r.int(1_000, 5_000) },
    { atMs: at(0.78, 0.88), kind: "web_restart", downMs: 0 },
  ];
  return { faults, workerKills };
}

export interface FaultLogEntry {
  atMs: number;
  kind: FaultKind;
  detail: string;
  recoveredMs: number;
}

export interface FaultTargets {
  processes: Processes;
  redis: OwnRedis;
  postgres: Postgres;
  stripe: StripeFaults;
}

/** Starts a Coffer process again, as a supervisor would, until it says it is ready. */
export async function restart(p: CofferProcess, note: (line: string) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await p.start();
    } catch (err) {
      if (attempt >= 10) throw err;
      note(`${p.name} did not start (${(err as Error).message}); trying again`);
      await sleep(2_000);
    }
  }
}

async function inject(f: Fault, t: FaultTargets, note: (line: string) => void): Promise<string> {
  switch (f.kind) {
    case "redis_restart":
      await t.redis.kill();
      await sleep(f.downMs);
      await t.redis.start();
      return `Redis SIGKILLed, restarted empty after ${f.downMs} ms`;
    case "postgres_crash":
      await t.postgres.crash();
      await sleep(f.downMs);
      await t.postgres.start();
      return `Postgres stopped -m immediate, restarted after ${f.downMs} ms`;
    case "web_restart":
      await t.processes.web.stop("SIGTERM");
      await restart(t.processes.web, note);
      return "web restarted (SIGTERM, then started)";
  }
}

/** How long a restarted worker works before the next kill may come. */
const RECOVERED_MS = 5_000;

async function killWorker(k: WorkerKill, t: FaultTargets, note: (line: string) => void): Promise<string> {
  const w = t.processes.workers[k.target]!;
  await w.stop("SIGKILL");
  await sleep(k.downMs);
  await restart(w, note);
  return `SIGKILL ${w.name}, down ${k.downMs} ms`;
}

/**
 * Plays the schedule from `startedAt` until the window has passed and `stillStarting()` is
 * false; resolves once every component is back. The one-off faults overlap worker kills when
 * the schedule says so (a worker killed while Postgres is down).
 */
export async function runFaults(
  schedule: Schedule,
  t: FaultTargets,
  o: { startedAt: number; windowMs: number; stillStarting: () => boolean },
  log: FaultLogEntry[],
  note: (line: string) => void,
): Promise<void> {
  t.stripe.on = true;
  const record = async (kind: FaultKind, act: () => Promise<string>) => {
    const began = Date.now();
    const detail = await act();
    const entry = { atMs: began - o.startedAt, kind, detail, recoveredMs: Date.now() - began };
    log.push(entry);
    note(`fault: ${detail} (back after ${(entry.recoveredMs / 1000).toFixed(1)} s)`);
  };
  const stormOver = () => Date.now() >= o.startedAt + o.windowMs && !o.stillStarting();
  const oneOffs = schedule.faults.map(async (f) => {
    await sleep(Math.max(0, o.startedAt + f.atMs - Date.now()));
    await record(f.kind, () => inject(f, t, note));
  });
  const kills = (async () => {
    let lastKillAt = o.startedAt;
    for (const k of schedule.workerKills) {
      const due = Math.max(lastKillAt + k.gapMs, Date.now() + RECOVERED_MS);
      while (Date.now() < due && !stormOver()) await sleep(Math.min(1_000, due - Date.now()));
      if (stormOver()) return;
      lastKillAt = Date.now();
      await record("worker_kill", () => killWorker(k, t, note));
    }
  })();
  await Promise.all([...oneOffs, kills]);
}
