import { writeFileSync } from "node:fs";
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
    return { value, profile: summarise(profile, path) };
  } finally {
    session.disconnect();
  }
}

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

function summarise(p: CpuProfile, path: string): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const areaOf = (id: number): string => {
    const leaf = byId.get(id)!.callFrame.functionName;
    const special = SPECIAL.get(leaf);
    if (special) return special;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      const rule = AREAS.find(([re]) => re.test(url));
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
  let totalMs = 0;
  p.samples.forEach((id, i) => {
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    totalMs += ms;
    const area = areaOf(id);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const name = nameOf(id);
    self.set(name, (self.get(name) ?? 0) + ms);
  });
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    path,
    totalMs,
    byArea: sorted(areas).map(([area, ms]) => ({ area, ms })),
    topSelf: sorted(self)
      .slice(0, 20)
      .map(([fn, ms]) => ({ fn, ms })),
  };
}
