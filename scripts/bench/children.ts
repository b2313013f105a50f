import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { statCpuMs } from "./machine-cpu.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const TAIL_LINES = 40;

/**
 * A server process under test, run exactly as production runs it
 * (`node --import tsx <entry>`), with its output kept in a short tail so a
 * crash can be explained without flooding the bench's own table.
 */
export interface Child {
  name: string;
  proc: ChildProcess;
  tail(): string;
  exited(): boolean;
  /** CPU time (user + system) the process has used so far, in ms; NaN where /proc is unavailable. */
  cpuMs(): number;
  /** The most resident memory the process has had (VmHWM), in MB; NaN where /proc is unavailable. */
  peakRssMb(): number;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnChild(
  name: string,
  entry: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  /** Another checkout to run the entry from (an A/B comparison against older code). */
  cwd = ROOT,
): Child {
  const proc = spawn(process.execPath, [...nodeArgs, "--import", "tsx", entry], {
    cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
    }
  };
  // Both pipes are always drained: a full pipe would block the child's logger and skew its timings.
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const exit = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const exited = () => proc.exitCode !== null || proc.signalCode !== null;
  return {
    name,
    proc,
    tail: () => lines.join("\n"),
    exited,
    cpuMs: () => (proc.pid === undefined ? Number.NaN : statCpuMs(String(proc.pid))),
    peakRssMb: () => (proc.pid === undefined ? Number.NaN : peakRssMb(proc.pid)),
    async stop(graceMs = 5_000) {
      if (exited()) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

function peakRssMb(pid: number): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Polls until `check` resolves true; fails early, with the child's last lines, if the child dies. */
export async function waitFor(
  child: Child,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exited()) throw new Error(`${child.name} exited while waiting for ${what}:\n${child.tail()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${child.tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status === 200;
}

/** Resolves once the child prints a line matching `re` (the baseline announces readiness this way). */
export function printed(child: Child, re: RegExp): () => Promise<boolean> {
  return async () => re.test(child.tail());
}
