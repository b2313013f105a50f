import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

/**
 * A V8 CPU profile of one phase of a bench, taken in-process through the
 * inspector (what `node --cpu-prof` records, limited to the phase), with a
 * summary by area and by function. The .cpuprofile opens in Chrome DevTools or
 * speedscope; it is written outside the repository and never committed.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  path: string;
  totalMs: number;
  /** Each sample charged to the nearest frame on its stack that belongs to a known area. */
  byArea: Array<{ area: string; ms: number }>;
  /** Self time: where the CPU was when sampled. */
  topSelf: Array<{ fn: string; ms: number }>;
  /** Inclusive time of Coffer's own functions (src/, jobs/): each sample once per function on its stack. */
  topInclusive: Array<{ fn: string; ms: number }>;
}

export async function profiled<T>(
  path: string,
  fn: () => Promise<T>,
): Promise<{ value: T; profile: ProfileSummary }> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 1000 });
  await session.post("Profiler.start");
  try {
    const value = await fn();
    const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
    writeFileSync(path, JSON.stringify(profile));
    return { value, profile: summarise(profile, path, AREAS) };
  } finally {
    session.disconnect();
  }
}

/**
 * A profile `node --cpu-prof` wrote, summarised over the samples taken inside `windowUs` (the
 * CLOCK_MONOTONIC microseconds of `process.hrtime`, which V8's profiler clock shares), so a
 * child's start-up and idle tails stay out of it.
 */
export function summariseFile(
  path: string,
  areas: Array<[RegExp, string]>,
  windowUs?: [number, number],
): ProfileSummary {
  return summarise(JSON.parse(readFileSync(path, "utf8")) as CpuProfile, path, areas, windowUs);
}

/** A worker's hot path, by library: where its CPU per event goes. */
export const WORKER_AREAS: Array<[RegExp, string]> = [
  [/\/node_modules\/bullmq\//, "bullmq"],
  [/\/node_modules\/(ioredis|redis-parser|cluster-key-slot|denque|msgpackr)\//, "ioredis"],
  [/\/node_modules\/knex\//, "knex: query building"],
  [
    /\/node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-[a-z]+)\//,
    "pg driver (incl. row and JSON parse)",
  ],
  [/\/node_modules\/(pino|sonic-boom|fast-redact|pino-std-serializers|thread-stream)\//, "pino"],
  [/\/node_modules\/prom-client\//, "prom-client"],
  [/\/node_modules\/zod\//, "zod"],
  [/\/node_modules\/stripe\//, "stripe SDK"],
  [/\/node_modules\//, "other libraries"],
  [/\/src\/db\//, "coffer src/db"],
  [/\/src\/(ledger|money)\//, "coffer src/ledger"],
  [/\/src\/(flows|stripe|queue)\//, "coffer flows, stripe, queue"],
  [/\/jobs\//, "coffer jobs/"],
];

// Leaf-first: the first rule that matches a frame on the stack names the sample's area.
const AREAS: Array<[RegExp, string]> = [
  [/\/src\/standin\//, "stand-in: serving pages (expand, JSON)"],
  [/\/node_modules\/stripe\//, "stripe SDK: request and JSON parse"],
  [/\/node_modules\/(pg|pg-protocol|pg-pool)\//, "pg driver"],
  [/\/node_modules\/knex\//, "knex"],
  [/\/src\/(flows|db|ledger|money)\//, "coffer: toLines, claims, stores"],
  [/\/node_modules\//, "other libraries"],
];
const SPECIAL = new Map([
  ["(garbage collector)", "GC"],
  ["(idle)", "idle (waiting on Postgres)"],
  ["(program)", "V8/native, no JS frame"],
]);

function summarise(
  p: CpuProfile,
  path: string,
  rules: Array<[RegExp, string]>,
  windowUs?: [number, number],
): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const areaOf = (id: number): string => {
    const leaf = byId.get(id)!.callFrame.functionName;
    const special = SPECIAL.get(leaf);
    if (special) return special;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      const rule = rules.find(([re]) => re.test(url));
      if (rule) return rule[1];
    }
    return "node runtime (http, net, timers)";
  };
  const nameOf = (id: number) => {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^.*\/(node_modules|src|scripts)\//, "$1/");
    return `${f.functionName || "(anonymous)"} ${file ? `${file}:${f.lineNumber + 1}` : "(native)"}`;
  };
  const areas = new Map<string, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalMs = 0;
  let atUs = p.startTime;
  p.samples.forEach((id, i) => {
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    atUs += p.timeDeltas[i] ?? 0;
    if (windowUs && (atUs < windowUs[0] || atUs > windowUs[1])) return;
    totalMs += ms;
    const area = areaOf(id);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const name = nameOf(id);
    self.set(name, (self.get(name) ?? 0) + ms);
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      if (
        /\/(src|jobs)\//.test(byId.get(at)!.callFrame.url) &&
        !/node_modules/.test(byId.get(at)!.callFrame.url)
      )
        onStack.add(nameOf(at));
    for (const fn of onStack) inclusive.set(fn, (inclusive.get(fn) ?? 0) + ms);
  });
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    path,
    totalMs,
    byArea: sorted(areas).map(([area, ms]) => ({ area, ms })),
    topSelf: sorted(self)
      .slice(0, 30)
      .map(([fn, ms]) => ({ fn, ms })),
    topInclusive: sorted(inclusive)
      .slice(0, 30)
      .map(([fn, ms]) => ({ fn, ms })),
  };
}
