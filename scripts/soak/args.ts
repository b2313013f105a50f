import { freshSeed } from "./random.js";

/** `npm run soak -- [--seed N] [--events N] [--workers N] [--minutes M] [--converge-s S] [--keep] [--dir D]`. */
export interface SoakArgs {
  seed: number;
  events: number;
  workers: number;
  /** How long the workload and the faults last; convergence and the audit come after. */
  minutes: number;
  convergeS: number;
  keep: boolean;
  dir: string | undefined;
}

const USAGE =
  "usage: npm run soak -- [--seed N] [--events N (default 3000)] [--workers N (≥ 2, default 2)] " +
  "[--minutes M (default 4)] [--converge-s S (default 180)] [--keep] [--dir DIR]";

export function parseArgs(argv: string[]): SoakArgs {
  const a: SoakArgs = {
    seed: freshSeed(),
    events: 3000,
    workers: 2,
    minutes: 4,
    convergeS: 180,
    keep: false,
    dir: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--keep") {
      a.keep = true;
      continue;
    }
    if (flag === "--help" || flag === "-h") throw new UsageError(USAGE);
    const value = argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value\n${USAGE}`);
    const n = Number(value);
    const whole = (min: number) => {
      if (!Number.isInteger(n) || n < min)
        throw new UsageError(`${flag} must be a whole number ≥ ${min}\n${USAGE}`);
      return n;
    };
    switch (flag) {
      case "--seed":
        a.seed = whole(0);
        break;
      case "--events":
        a.events = whole(1);
        break;
      case "--workers":
        a.workers = whole(2);
        break;
      case "--minutes":
        if (!(n >= 0.5 && n <= 600)) throw new UsageError(`--minutes must be between 0.5 and 600\n${USAGE}`);
        a.minutes = n;
        break;
      case "--converge-s":
        a.convergeS = whole(10);
        break;
      case "--dir":
        a.dir = value;
        break;
      default:
        throw new UsageError(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  return a;
}

export class UsageError extends Error {}

/** The command that replays this run. */
export function replayCommand(a: SoakArgs): string {
  return `npm run soak -- --seed ${a.seed} --events ${a.events} --workers ${a.workers} --minutes ${a.minutes}`;
}
