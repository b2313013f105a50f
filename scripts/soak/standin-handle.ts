import { fork, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import type { StripeEvent } from "../../src/standin/index.js";

/** The soak's side of standin-process.ts: where it listens, and what it can be asked. */
export interface StandinHandle {
  url: string;
  host: string;
  port: number;
  /** Events created since the `since`-th, in creation order (every account's). */
  events(since: number): Promise<StripeEvent[]>;
  /** API requests the stand-in served, and how many its rate limits refused. */
  stats(): Promise<{ requests: number; rateLimited: number }>;
  close(): Promise<void>;
}

type Ask = { op: "events"; since: number } | { op: "stats" };

export async function startStandinProcess(
  dir: string,
  opts: { webhookSecret: string; connectWebhookSecret: string; availableAfterS: number },
): Promise<StandinHandle> {
  const log = createWriteStream(join(dir, "standin.log"), { flags: "a" });
  const child: ChildProcess = fork(
    new URL("./standin-process.ts", import.meta.url).pathname,
    [JSON.stringify(opts)],
    {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    },
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const waiting = new Map<number, (v: unknown) => void>();
  let nextId = 1;
  const ready = new Promise<{ url: string; host: string; port: number }>((resolve, reject) => {
    child.once("exit", (code) =>
      reject(new Error(`stand-in exited (${code}); see ${join(dir, "standin.log")}`)),
    );
    child.on(
      "message",
      (m: { ready?: { url: string; host: string; port: number }; id?: number; result?: unknown }) => {
        if (m.ready) return resolve(m.ready);
        if (m.id !== undefined) {
          waiting.get(m.id)?.(m.result);
          waiting.delete(m.id);
        }
      },
    );
  });
  const where = await ready;
  const ask = <T>(req: Ask) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve as (v: unknown) => void);
      child.send({ ...req, id });
    });
  return {
    ...where,
    events: (since) => ask<StripeEvent[]>({ op: "events", since }),
    stats: () => ask({ op: "stats" }),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.send({ op: "close", id: nextId++ });
      await exited;
      log.end();
    },
  };
}
