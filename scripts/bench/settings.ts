/**
 * The bench's knobs, all from the environment (defaults in brackets):
 * BENCH_SECONDS (8) and BENCH_WARMUP_SECONDS (2) per cell, BENCH_ROUNDS (2),
 * BENCH_PRIME_SECONDS (3, one untimed run per server first),
 * BENCH_CONNECTIONS ("10,50"), BENCH_EVENTS (1000), BENCH_WALLETS ("1,100"),
 * BENCH_POST_CONNECTIONS (50), BENCH_WORKER_CONCURRENCY (Coffer's default),
 * BENCH_FORCED_EVENTS (600, refund and dispute events), BENCH_WITHDRAWALS (1000
 * requests per scenario), BENCH_WITHDRAWAL_CONNECTIONS (20),
 * BENCH_WAIT_TIMEOUT_S (120), BENCH_JSON (/tmp/coffer-bench-<time>.json).
 */
const num = (name: string, def: number) => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const list = (name: string, def: string) => {
  const v = (process.env[name] ?? def).split(",").map(Number);
  if (v.length === 0 || !v.every((n) => Number.isInteger(n) && n > 0))
    throw new Error(`${name} must be a comma-separated list of positive integers`);
  return v;
};

export const settings = {
  measureS: num("BENCH_SECONDS", 8),
  warmupS: num("BENCH_WARMUP_SECONDS", 2),
  primeS: num("BENCH_PRIME_SECONDS", 3),
  rounds: num("BENCH_ROUNDS", 2),
  connections: list("BENCH_CONNECTIONS", "10,50"),
  events: num("BENCH_EVENTS", 1000),
  wallets: list("BENCH_WALLETS", "1,100"),
  postConnections: num("BENCH_POST_CONNECTIONS", 50),
  // Request counts: a fraction would make a request plan that cannot be built.
  forcedEvents: Math.ceil(num("BENCH_FORCED_EVENTS", 600)),
  withdrawals: Math.ceil(num("BENCH_WITHDRAWALS", 1000)),
  withdrawalConnections: Math.ceil(num("BENCH_WITHDRAWAL_CONNECTIONS", 20)),
  waitTimeoutS: num("BENCH_WAIT_TIMEOUT_S", 120),
  workerConcurrency: process.env.BENCH_WORKER_CONCURRENCY ? num("BENCH_WORKER_CONCURRENCY", 8) : undefined,
  jsonPath:
    process.env.BENCH_JSON ?? `/tmp/coffer-bench-${new Date().toISOString().replaceAll(":", "-")}.json`,
};
