import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { freePort } from "../../scripts/free-port.js";

/**
 * A Redis of the test's own, on a free port, with no persistence: stopping and
 * starting it again is a real "Redis restarted empty", without touching the
 * machine's shared Redis that other test files use.
 */
export interface OwnRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function ownRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const r: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    start: async () => {
      proc = spawn(
        "redis-server",
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--maxmemory-policy",
          "noeviction",
        ],
        {
          stdio: "ignore",
        },
      );
      for (let i = 0; i < 100; i++) {
        const c = new Redis(port, "127.0.0.1", {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          enableOfflineQueue: false,
          retryStrategy: () => null,
        });
        c.on("error", () => undefined);
        try {
          await c.connect();
          await c.ping();
          c.disconnect();
          return;
        } catch {
          c.disconnect();
          await new Promise((res) => setTimeout(res, 50));
        }
      }
      throw new Error("redis-server did not start");
    },
    stop: async () => {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((res) => p.on("exit", res));
      p.kill("SIGKILL"); // a crash: nothing is saved
      await exited;
    },
  };
  await r.start();
  return r;
}
