/**
 * The soak's only source of randomness. Everything a run decides (the workload, the delivery
 * plan of each event, the fault schedule) comes from a stream derived from the one seed, so
 * `--seed N` replays the same decisions. What the operating system decides (which worker takes
 * a job, how requests interleave) is not in the seed: the soak replays the storm, not the
 * scheduler.
 */
export interface Random {
  /** In [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  /** Picks a key with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K;
  shuffle<T>(xs: readonly T[]): T[];
}

/** mulberry32 over a 32-bit state: small, fast and good enough to drive a test. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of the label, so each named stream is independent of how much the others drew. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A stream for one purpose (`workload`, `faults`, `delivery:evt_…`). Streams are keyed by name,
 * not drawn from one another, so adding a fault kind does not change the workload of a seed.
 */
export function stream(seed: number, label: string): Random {
  const next = mulberry32((seed ^ hashLabel(label)) >>> 0);
  const r: Random = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (xs) => {
      if (xs.length === 0) throw new Error("pick from an empty list");
      return xs[Math.floor(next() * xs.length)]!;
    },
    weighted: (weights) => {
      const entries = Object.entries(weights) as Array<[keyof typeof weights, number]>;
      const total = entries.reduce((s, [, w]) => s + w, 0);
      let x = next() * total;
      for (const [k, w] of entries) {
        x -= w;
        if (x < 0) return k;
      }
      return entries[entries.length - 1]![0];
    },
    shuffle: (xs) => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
  return r;
}

/** A fresh seed for a run that was given none (CI): printed first, so a failure can be replayed. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
