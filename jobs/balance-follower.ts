import { followFailed, followWhenIdle } from "../src/flows/balance-follow.js";
import type { FlowDeps } from "../src/flows/deps.js";

/**
 * An in-process timer, like the sweeper: the stream's cursor lives in Postgres, so
 * nothing about it is lost with Redis. Every worker that runs the reconciliation
 * queue ticks; the lock lets one of them read at a time.
 *
 * A run of failed passes is counted here and logged by followFailed, which alerts on one that
 * goes on.
 */
export function startBalanceFollower(deps: FlowDeps, intervalMs: number): () => Promise<void> {
  if (intervalMs <= 0) return async () => {};
  let running: Promise<void> | null = null;
  let failures = 0;
  const timer = setInterval(() => {
    if (running) return;
    running = followWhenIdle(deps, intervalMs / 2)
      .then((r) => {
        failures = 0;
        if (r !== "skipped" && (r.booked > 0 || r.recheck.reads > 0))
          deps.log.info({ ...r, conflicts: r.conflicts.length }, "balance stream followed");
      })
      .catch((err: unknown) => {
        failures = followFailed(deps, err, failures);
      })
      .finally(() => (running = null));
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
