import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * One Coffer process (web or worker) as production runs it: `node --import tsx <entry>` with the
 * soak's environment. Its stdout and stderr go to `<name>.log` in the run directory, appended
 * across restarts with a marker line, so a failed run keeps every incarnation's log.
 */
export class CofferProcess {
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #log: WriteStream;
  /** Exits the soak did not cause (a crash is a finding, not a fault). */
  unexpectedExits: string[] = [];
  starts = 0;

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    private readonly readyMsg: string,
    dir: string,
  ) {
    this.#log = createWriteStream(join(dir, `${name}.log`), { flags: "a" });
  }

  get logFile(): string {
    return this.#log.path as string;
  }

  alive(): boolean {
    const p = this.#proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Starts it and resolves once it logs its ready line (`web listening`, `workers started`). */
  start(timeoutMs = 120_000): Promise<void> {
    this.starts += 1;
    this.#log.write(`\n==== soak: start #${this.starts} of ${this.name} at ${new Date().toISOString()}\n`);
    const proc = spawn(process.execPath, ["--import", "tsx", this.entry], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#proc = proc;
    let ready = false;
    this.#exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        // One that dies before it is ready is a failed start (Postgres down at boot), retried.
        if (ready && !(proc as { soakKilled?: boolean }).soakKilled)
          this.unexpectedExits.push(
            `${this.name} exited by itself (${code ?? signal}) at ${new Date().toISOString()}`,
          );
        resolve();
      }),
    );
    proc.stderr!.pipe(this.#log, { end: false });
    return new Promise((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => {
        // Never leave it behind: a retry starts another one.
        (proc as { soakKilled?: boolean }).soakKilled = true;
        proc.kill("SIGKILL");
        reject(new Error(`${this.name} not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      proc.stdout!.on("data", (d: Buffer) => {
        this.#log.write(d);
        buf += d.toString();
        if (buf.includes(`"msg":"${this.readyMsg}"`)) {
          clearTimeout(timer);
          buf = "";
          ready = true;
          resolve();
        } else if (buf.length > 65_536) buf = buf.slice(-4096);
      });
      void this.#exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited before it was ready; see ${this.logFile}`));
      });
    });
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `deadlineMs` if it has not gone. */
  async stop(signal: NodeJS.Signals, deadlineMs = 20_000): Promise<void> {
    const p = this.#proc;
    if (!p || !this.alive()) return;
    (p as { soakKilled?: boolean }).soakKilled = true;
    this.#log.write(`\n==== soak: ${signal} to ${this.name} (pid ${p.pid}) at ${new Date().toISOString()}\n`);
    p.kill(signal);
    const timer = setTimeout(() => p.kill("SIGKILL"), deadlineMs);
    await this.#exited;
    clearTimeout(timer);
  }

  close(): Promise<void> {
    return new Promise((r) => this.#log.end(r));
  }
}

export interface Processes {
  web: CofferProcess;
  workers: CofferProcess[];
  all(): CofferProcess[];
}

export function cofferProcesses(env: Record<string, string>, workers: number, dir: string): Processes {
  const web = new CofferProcess("web", "src/web.ts", env, "web listening", dir);
  const list = Array.from(
    { length: workers },
    (_, i) => new CofferProcess(`worker-${i + 1}`, "jobs/worker.ts", env, "workers started", dir),
  );
  return { web, workers: list, all: () => [web, ...list] };
}
