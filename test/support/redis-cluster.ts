import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./web-process.js";
import { eventually } from "./system.js";

/**
 * A Redis Cluster of the test's own: `masters` masters with one replica each, on free loopback
 * ports, each node with its own directory (nodes.conf and an append-only file) under one temp
 * dir. A short node timeout makes a replica take over a killed master in a second or two; a
 * node restarted on its port and directory rejoins from its nodes.conf (as a replica of whoever
 * took over). Nothing here touches the machine's shared Redis.
 */
export interface OwnCluster {
  /** For REDIS_CLUSTER_NODES: every node's host:port. */
  nodes: string;
  ports: number[];
  /** The port of the master now serving `key`'s slot. */
  masterOf(key: string): Promise<number>;
  kill(port: number): Promise<void>;
  start(port: number): Promise<void>;
  /** Every running node says cluster_state:ok, and every slot's master is a running node. */
  healthy(): Promise<void>;
  stop(): Promise<void>;
}

const NODE_TIMEOUT_MS = 1_000;

export async function ownCluster(masters = 3): Promise<OwnCluster> {
  const dir = mkdtempSync(join(tmpdir(), "coffer-cluster-"));
  const ports: number[] = [];
  const bus = new Map<number, number>();
  const procs = new Map<number, ChildProcess>();

  const start = async (port: number) => {
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir, { recursive: true });
    const p = spawn(
      "redis-server",
      [
        ...["--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"],
        ...["--cluster-port", String(bus.get(port)), "--cluster-config-file", "nodes.conf"],
        ...["--cluster-node-timeout", String(NODE_TIMEOUT_MS), "--dir", nodeDir],
        ...["--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction"],
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    procs.set(port, p);
    let said = "";
    p.stdout!.on("data", (d: Buffer) => (said = (said + d.toString()).slice(-2_000)));
    const exited = new Promise<never>((_, reject) =>
      p.once("exit", (code, signal) =>
        reject(new NodeExited(`redis-server on ${port} exited (${code ?? signal}): ${said}`)),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([
      eventually(() => ask(port, (c) => c.ping()), { what: `redis-server on ${port}` }),
      exited,
    ]);
  };

  /**
   * A new node on ports free a moment ago. They come from the ephemeral range, which the
   * machine's outgoing connections (other test files' Postgres, Redis and HTTP clients) draw
   * on too, so one may be taken before redis-server binds it: then it exits at once, and the
   * node is tried again on fresh ports rather than waited on until the timeout.
   */
  const add = async () => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      // The bus port is given, not port + 10000: a high ephemeral port plus 10000 may not exist.
      bus.set(port, await freePort());
      try {
        await start(port);
        ports.push(port);
        return;
      } catch (err) {
        if (!(err instanceof NodeExited) || attempt === 5) throw err;
      }
    }
  };

  const live = () => ports.filter((p) => procs.get(p)?.exitCode === null && !procs.get(p)?.signalCode);

  const cluster: OwnCluster = {
    get nodes() {
      return ports.map((p) => `127.0.0.1:${p}`).join(",");
    },
    ports,
    start,
    masterOf: async (key) => {
      const port = live()[0]!;
      const slot = await ask(port, (c) => c.cluster("KEYSLOT", key));
      const ranges = await ask(port, (c) => c.cluster("SLOTS"));
      const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
      if (!master) throw new Error(`no node serves slot ${slot}`);
      return master[1];
    },
    kill: async (port) => {
      const p = procs.get(port);
      if (!p || p.exitCode !== null || p.signalCode) return;
      const exited = new Promise((r) => p.on("exit", r));
      p.kill("SIGKILL"); // a crash: nothing flushed, no failover handed over
      await exited;
    },
    healthy: async () => {
      await eventually(
        async () => {
          const up = live();
          for (const port of up) {
            const info = await ask(port, (c) => c.cluster("INFO"));
            if (!info.includes("cluster_state:ok")) return false;
            const role = await ask(port, (c) => c.info("replication"));
            if (role.includes("role:slave") && !role.includes("master_link_status:up")) return false;
          }
          const ranges = await ask(up[0]!, (c) => c.cluster("SLOTS"));
          return ranges.length > 0 && ranges.every((r) => r[2] !== undefined && up.includes(r[2][1]));
        },
        { timeoutMs: 30_000, what: "the cluster healthy" },
      );
    },
    stop: async () => {
      await Promise.all([...procs.keys()].map((p) => cluster.kill(p)));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    for (let i = 0; i < masters * 2; i++) await add();
    const made = spawnSync(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...ports.map((p) => `127.0.0.1:${p}`),
        "--cluster-replicas",
        "1",
        "--cluster-yes",
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    if (made.status !== 0) throw new Error(`redis-cli --cluster create failed: ${made.stdout}${made.stderr}`);
    await cluster.healthy();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

class NodeExited extends Error {}

/** One command on a short-lived direct connection to one node (no cluster redirects). */
async function ask<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  c.on("error", () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}
