import { runTimed, type LoadResult } from "./load.js";
import { PayloadPool } from "./payloads.js";

export type ServerName = "baseline" | "coffer";

export interface IngestionRun extends LoadResult {
  server: ServerName;
  round: number;
  /** Deliveries signed during the timed window because the pool ran dry (0 in a healthy run). */
  inlineSigned: number;
}

export interface IngestionCell {
  connections: number;
  baseline: IngestionRun;
  coffer: IngestionRun;
  rpsRatio: number;
  p99Ratio: number;
  /** Coffer's server CPU per request over the baseline's: the overhead with machine noise mostly removed. */
  cpuRatio: number;
  pass: boolean;
}

export interface Target {
  url: string;
  /** The server process's cumulative CPU time, in ms. */
  cpuMs: () => number;
}

export interface IngestionSettings {
  connections: number[];
  rounds: number;
  warmupS: number;
  measureS: number;
  /** One untimed run per server before round 1, so neither meets a cold JIT or an empty pool. */
  primeS: number;
}

/** SPEC's thin-web goal: at least this share of the bare baseline's throughput… */
export const MIN_RPS_RATIO = 0.8;
/** …and a p99 no worse than this multiple of the baseline's. */
export const MAX_P99_RATIO = 1.5;

/** What to size the first pool for, before any cell has told us the real rate. */
const FIRST_GUESS_RPS = 3_000;

/**
 * Runs every (server, connections) cell `rounds` times. Before each cell
 * `reset` empties the events table and the queues, so every cell meets the
 * same table size, Redis size and checkpoint state whichever runs first; the
 * order also alternates between rounds (baseline first, then Coffer first) so
 * any drift left falls on both servers alike. Each cell keeps its best round.
 */
export async function runIngestion(
  targets: Record<ServerName, Target>,
  secret: string,
  s: IngestionSettings,
  reset: () => Promise<void>,
  log: (msg: string) => void,
): Promise<{ runs: IngestionRun[]; cells: IngestionCell[] }> {
  const pool = new PayloadPool(secret);
  const runs: IngestionRun[] = [];
  let bestRps = FIRST_GUESS_RPS;
  const maxConnections = Math.max(...s.connections);
  for (const server of ["baseline", "coffer"] as const) {
    pool.fill(Math.ceil(bestRps * s.primeS * 1.4) + 1_000);
    const primed = await runTimed({
      url: `${targets[server].url}/webhooks/stripe`,
      connections: maxConnections,
      warmupMs: 0,
      measureMs: s.primeS * 1000,
      next: () => pool.take(),
    });
    log(`priming ${server}: ${primed.rps.toFixed(0)} req/s (not counted)`);
  }
  for (let round = 1; round <= s.rounds; round++) {
    const order: ServerName[] = round % 2 === 1 ? ["baseline", "coffer"] : ["coffer", "baseline"];
    for (const connections of s.connections) {
      for (const server of order) {
        // Room for the fastest rate seen so far plus a margin, so the pool rarely runs dry.
        const target = Math.ceil(bestRps * (s.warmupS + s.measureS) * 1.4) + 1_000;
        await reset();
        const fillMs = pool.fill(target);
        const inlineBefore = pool.inline;
        const result = await runTimed({
          url: `${targets[server].url}/webhooks/stripe`,
          connections,
          warmupMs: s.warmupS * 1000,
          measureMs: s.measureS * 1000,
          next: () => pool.take(),
          serverCpuMs: targets[server].cpuMs,
        });
        const run: IngestionRun = { ...result, server, round, inlineSigned: pool.inline - inlineBefore };
        runs.push(run);
        bestRps = Math.max(bestRps, run.rps);
        log(
          `round ${round} ${server.padEnd(8)} c=${String(connections).padStart(2)}: ` +
            `${run.rps.toFixed(0)} req/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, ` +
            `errors ${run.errors}, server cpu ${(run.serverCpuMsPerReq * 1000).toFixed(0)} µs/req ` +
            `(pool filled in ${(fillMs / 1000).toFixed(1)} s)`,
        );
      }
    }
  }
  return { runs, cells: s.connections.map((c) => cellFor(runs, c)) };
}

function best(runs: IngestionRun[], server: ServerName, connections: number): IngestionRun {
  const mine = runs.filter((r) => r.server === server && r.connections === connections);
  // "Best" is the round with the highest throughput; its own p99 goes with it, never mixed across rounds.
  return mine.reduce((a, b) => (b.rps > a.rps ? b : a));
}

function cellFor(runs: IngestionRun[], connections: number): IngestionCell {
  const baseline = best(runs, "baseline", connections);
  const coffer = best(runs, "coffer", connections);
  const rpsRatio = coffer.rps / baseline.rps;
  const p99Ratio = coffer.p99Ms / baseline.p99Ms;
  return {
    connections,
    baseline,
    coffer,
    rpsRatio,
    p99Ratio,
    cpuRatio: coffer.serverCpuMsPerReq / baseline.serverCpuMsPerReq,
    pass: rpsRatio >= MIN_RPS_RATIO && p99Ratio <= MAX_P99_RATIO && coffer.errors === 0,
  };
}
