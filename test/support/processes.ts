import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * A command run the way an operator runs it (npm, nf, sh -c), for the process tests. Every
 * process it starts, and everything those start, inherits COFFER_TEST_MARK, so a test can find
 * them all in /proc afterwards, orphans included, whoever their parent has become.
 */
export interface Launched {
  proc: ChildProcess;
  pid: number;
  mark: string;
  /** stdout and stderr, line by line, as they arrived. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Resolves once its output has ended: every process holding its stdout and stderr (the children
   * it started inherit them) has exited, and everything they wrote is in `lines`. `exited` comes
   * earlier, and lines still in the pipe then are not read yet.
   */
  closed: Promise<void>;
  /** Resolves with the first line (already seen or still to come) that matches. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
}

export function launch(command: string, args: string[], env: Record<string, string>): Launched {
  const mark = randomUUID();
  // Its own process group, so a test can send what a terminal sends (the whole group) or what a
  // supervisor sends (one pid), and so the cleanup below reaches everything.
  const proc = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, COFFER_TEST_MARK: mark },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const onData = (() => {
    let buf = "";
    return (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        for (const w of waiters.filter((x) => x.re.test(line))) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    };
  })();
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const closed = new Promise<void>((resolve) => proc.on("close", () => resolve()));
  const waitForLine = (re: RegExp, timeoutMs = 60_000) => {
    const seen = lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no line matching ${re} within ${timeoutMs} ms:\n${tail(lines)}`)),
        timeoutMs,
      );
      waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  };
  return { proc, pid: proc.pid!, mark, lines, exited, closed, waitForLine };
}

export const tail = (lines: string[], n = 40) => lines.slice(-n).join("\n");

/** Every live process carrying `mark` in its environment (zombies have none and are not counted). */
export function markedProcesses(mark: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "latin1");
      if (!environ.split("\0").includes(`COFFER_TEST_MARK=${mark}`)) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "latin1").replaceAll("\0", " ").trim();
      found.push({ pid: Number(entry), cmd });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** The cleanup of a failed test: nothing it started may outlive it. */
export function killMarked(mark: string): void {
  for (const p of markedProcesses(mark)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export { freePort } from "../../scripts/free-port.js";

/** Whether a new listener can bind `port` on every interface, as the web and the metrics do. */
export async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/** Polls GET `url` until it answers 200. */
export async function waitForOk(url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Resolves once `launched` has exited, or rejects after `timeoutMs` with its last lines. */
export async function exitWithin(launched: Launched, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`still running after ${timeoutMs} ms:\n${tail(launched.lines)}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([launched.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until no process carries `mark`, or fails naming the ones left. */
export async function expectNoneLeft(mark: string, timeoutMs = 0): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = markedProcesses(mark);
    if (left.length === 0) return;
    if (Date.now() >= deadline)
      throw new Error(`processes left behind:\n${left.map((p) => `${p.pid} ${p.cmd}`).join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
