import type { Logger } from "./logger.js";

/**
 * How a long-running process (web, worker) ends, whoever started it: `npm start`, a Procfile
 * runner, a container's init, or a shell. `stop` (the drain) runs once, then the process exits.
 *
 * - SIGTERM, SIGINT or SIGHUP starts it.
 * - The same stop often arrives twice within milliseconds: a terminal's Ctrl-C reaches the whole
 *   foreground process group, and the runner above (npm, nf, foreman) forwards it as well. A
 *   repeat within DUPLICATE_SIGNAL_MS is that echo and is ignored; a later one is a person asking
 *   again, and the process exits at once without draining.
 * - The parent going away starts it too. A runner killed outright (SIGKILL, or nf, which has no
 *   SIGTERM handler) cannot pass anything on, and its children would keep consuming jobs and
 *   holding ports. The kernel then re-parents the process, so a changed `process.ppid` is the
 *   sign, checked every PARENT_POLL_MS.
 * - A drain that outlasts SHUTDOWN_DEADLINE_MS (a job stuck on a dead socket) ends in exit 1:
 *   nothing is lost, since BullMQ hands an unfinished job out again once its lock expires.
 */
export const DUPLICATE_SIGNAL_MS = 1_000;
export const PARENT_POLL_MS = 1_000;
export const SHUTDOWN_DEADLINE_MS = 30_000;

const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let startedAt: number | null = null;
  const begin = (reason: string, bySignal: boolean) => {
    if (startedAt !== null) {
      if (!bySignal || Date.now() - startedAt < DUPLICATE_SIGNAL_MS) return;
      logger.warn({ signal: reason }, "signalled again while draining: exiting now");
      process.exit(1);
    }
    startedAt = Date.now();
    logger.info({ reason }, "shutting down");
    setTimeout(() => {
      logger.error({ deadline_ms: SHUTDOWN_DEADLINE_MS }, "drain did not finish in time: exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  for (const signal of SIGNALS) process.on(signal, () => begin(signal, true));
  watchParent(() => begin("parent_exited", false));
}

/**
 * Calls `onGone` once when this process's parent has exited. A process whose parent is init
 * already (PID 1: a container's `init: true`, or a parent that died before this ran) has no
 * parent to outlive, so nothing is watched. The timer never keeps the process alive.
 */
export function watchParent(onGone: () => void, intervalMs = PARENT_POLL_MS): () => void {
  const parent = process.ppid;
  if (parent <= 1) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
