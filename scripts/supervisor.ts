import { spawn, type ChildProcess } from "node:child_process";

/**
 * One child process of `npm start` (web or worker), kept running until stop().
 *
 * - The child runs `node --import tsx <script>` directly (no npm, no tsx CLI in between), so a
 *   signal sent to it reaches the process that drains.
 * - It gets a process group of its own (`detached`): a terminal's Ctrl-C then reaches only
 *   `npm start`, which forwards it once, instead of every process at the same instant. Should
 *   `npm start` die without forwarding anything, the child sees its parent go (src/shutdown.ts)
 *   and drains by itself, so it is never left behind.
 * - A child that exits on its own is started again after a backoff that doubles from
 *   RESTART_FIRST_MS up to RESTART_MAX_MS, and goes back to the first step once a child has run
 *   for STABLE_AFTER_MS. Exit 78 (bad configuration) is not restarted: it would fail the same way.
 */
export const RESTART_FIRST_MS = 1_000;
export const RESTART_MAX_MS = 30_000;
export const STABLE_AFTER_MS = 60_000;
export const EXIT_CONFIG = 78;

export interface SupervisorEvents {
  log(msg: string): void;
  /** The child exited in a way a restart cannot fix; the whole system should stop. */
  fatal(code: number): void;
}

export class Supervised {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #restartTimer: NodeJS.Timeout | undefined;
  #quickCrashes = 0;
  #stopping = false;

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly opts: { cwd: string; env: NodeJS.ProcessEnv },
    private readonly events: SupervisorEvents,
  ) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): void {
    if (this.#stopping) return;
    const startedAt = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", this.script], {
      cwd: this.opts.cwd,
      env: this.opts.env,
      stdio: "inherit",
      detached: true,
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      // 'exit', or 'error' alone when the spawn itself failed; whichever comes first counts.
      let gone = false;
      const done = (how: number | string) => {
        if (gone) return;
        gone = true;
        resolve();
        this.#onExit(how, startedAt);
      };
      child.once("error", (err) => {
        this.events.log(`${this.name} could not be started: ${err.message}`);
        done(1);
      });
      child.once("exit", (code, signal) => done(code ?? signal ?? 1));
    });
    this.events.log(`${this.name} started (pid ${child.pid})`);
  }

  #onExit(how: number | string, startedAt: number): void {
    if (this.#stopping) {
      this.events.log(`${this.name} exited (${how})`);
      return;
    }
    if (how === EXIT_CONFIG) {
      this.events.log(`${this.name} exited (${how}: bad configuration); not restarting`);
      this.events.fatal(EXIT_CONFIG);
      return;
    }
    if (Date.now() - startedAt >= STABLE_AFTER_MS) this.#quickCrashes = 0;
    const delayMs = Math.min(RESTART_FIRST_MS * 2 ** this.#quickCrashes, RESTART_MAX_MS);
    this.#quickCrashes += 1;
    this.events.log(
      `${this.name} exited unexpectedly (${how}); restarting in ${delayMs} ms (restart ${this.#quickCrashes})`,
    );
    this.#restartTimer = setTimeout(() => this.start(), delayMs);
  }

  /** Sends `signal` to the child's group; no restart follows. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid === undefined || !this.#alive()) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: it exited between the check and the kill.
    }
  }

  /** Stops the child: `signal` now, SIGKILL after `deadlineMs`; resolves once it has exited. */
  async stop(signal: NodeJS.Signals, deadlineMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.signal(signal);
    const deadline = setTimeout(() => {
      this.events.log(`${this.name} did not drain within ${deadlineMs} ms: SIGKILL`);
      this.signal("SIGKILL");
    }, deadlineMs);
    await this.#exited;
    clearTimeout(deadline);
  }

  #alive(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }
}
