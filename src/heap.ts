import v8 from "node:v8";

/**
 * How far V8 lets the old space grow past what the last full collection found alive: 50 %,
 * where V8 alone picks up to 300 % (4×) while it has no measure yet of how fast the process
 * allocates. That first guess is what set the processes' peak memory: the web's live heap is
 * about 40 MB under load, but its first full collection after start-up left it room to reach
 * 170 MB before the next (seen with --trace-gc), so its peak RSS was 238–266 MB. With 50 % it
 * is 186–197 MB at the same req/s, and a worker's 184 MB against 249–256 (scripts/bench). The
 * price is more full collections of a small heap: in a worker's CPU profile, GC went from 3.1 %
 * to 4.6 % of its time (0.04 ms more per credited event).
 *
 * Imported first by the web and worker entry points. `node --heap-growing-percent=N` on the
 * command line is the operator's override, and is left alone. The flag is V8's own and is read
 * at every full collection, so setting it this early applies to all of them.
 */
export const HEAP_GROWING_PERCENT = 50;

if (!process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a)))
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
