import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdirSync, openSync, readdirSync } from "node:fs";
import { Socket } from "node:net";
import { freePort } from "../free-port.js";
import { join } from "node:path";
import { sleep } from "./random.js";

/**
 * The soak's own services: a Postgres cluster made with `initdb` in the run directory and a
 * redis-server, each on a free port, so crashing them touches nothing else on the machine.
 *
 * Postgres refuses to run as root, so when the soak is root the cluster belongs to an
 * unprivileged user (SOAK_PG_USER, else `postgres`, else `nobody`) and every pg_ctl call runs
 * as that user through runuser, setpriv or su, whichever this machine has.
 */
export { freePort };

/** Resolves once something accepts TCP connections on the port, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const sock = new Socket();
      sock.once("connect", () => (sock.destroy(), resolve(true)));
      sock.once("error", () => (sock.destroy(), resolve(false)));
      sock.connect(port, "127.0.0.1");
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`${what} did not open port ${port} within ${timeoutMs} ms`);
}

/** initdb and pg_ctl: on PATH, or in Debian's versioned directory (newest first). */
function pgBinary(name: string): string {
  const onPath = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  if (onPath) return onPath;
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, "bin", name))) return join(base, v, "bin", name);
  throw new Error(`${name} not found (install PostgreSQL's server package)`);
}

interface RunAs {
  user: string | undefined;
  uid: number | undefined;
  gid: number | undefined;
  wrap(cmd: string, args: string[]): [string, string[]];
}

/** How to run a command as the cluster's user; as ourselves unless we are root. */
function runAs(): RunAs {
  if (process.getuid?.() !== 0)
    return { user: undefined, uid: undefined, gid: undefined, wrap: (c, a) => [c, a] };
  const candidates = [process.env.SOAK_PG_USER, "postgres", "nobody"].filter((u): u is string => !!u);
  const user = candidates.find((u) => spawnSync("id", ["-u", u]).status === 0);
  if (!user) throw new Error("running as root, but no unprivileged user for Postgres (set SOAK_PG_USER)");
  const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
  const has = (bin: string) => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
  if (has("runuser")) return { user, uid, gid, wrap: (c, a) => ["runuser", ["-u", user, "--", c, ...a]] };
  if (has("setpriv")) {
    const ids = ["--reuid", String(uid), "--regid", String(gid), "--clear-groups"];
    return { user, uid, gid, wrap: (c, a) => ["setpriv", [...ids, c, ...a]] };
  }
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  return {
    user,
    uid,
    gid,
    wrap: (c, a) => ["su", [user, "-s", "/bin/sh", "-c", [c, ...a].map(quote).join(" ")]],
  };
}

export interface Postgres {
  port: number;
  dataDir: string;
  logFile: string;
  /** The superuser's URL of a database (the owner: migrations and the audit's reads). */
  url(database: string): string;
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate`: every backend is killed, WAL replay on the next start. */
  crash(): Promise<void>;
  /** Stops it cleanly (nothing if it is not running). */
  stop(): Promise<void>;
  /** Commands an operator can paste to look at the kept cluster. */
  howToStart(): string;
}

const SUPERUSER = "soak";

export async function createPostgres(dir: string): Promise<Postgres> {
  const as = runAs();
  const initdb = pgBinary("initdb");
  const pgCtl = pgBinary("pg_ctl");
  const dataDir = join(dir, "pgdata");
  const logFile = join(dir, "postgres.log");
  mkdirSync(dataDir, { mode: 0o700 });
  openSync(logFile, "a");
  if (as.uid !== undefined && as.gid !== undefined) {
    chownSync(dataDir, as.uid, as.gid);
    chownSync(logFile, as.uid, as.gid);
  }
  // Never spawnSync while the soak runs: it would stop the deliveries and the stories with it.
  const run = (cmd: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const [c, a] = as.wrap(cmd, args);
      const child = spawn(c, a, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      child.on("error", reject);
      child.on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`${cmd} ${args.at(-1) ?? ""} failed (${code}): ${out}`)),
      );
    });
  await run(initdb, ["-D", dataDir, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"]);
  const port = await freePort();
  // TCP only (no socket directory to own); fsync off because the soak crashes the server
  // process, never the machine, so the OS keeps every write a crash must replay.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c max_connections=200`;
  const pg: Postgres = {
    port,
    dataDir,
    logFile,
    url: (database) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`,
    start: async () => {
      await run(pgCtl, ["-D", dataDir, "-o", options, "-l", logFile, "-w", "-t", "120", "start"]);
      await waitForPort(port, 30_000, "postgres");
    },
    crash: () => run(pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "stop"]),
    stop: () => run(pgCtl, ["-D", dataDir, "-m", "fast", "-w", "stop"]).catch(() => undefined),
    howToStart: () => {
      const [c, a] = as.wrap(pgCtl, ["-D", dataDir, "-o", `"${options}"`, "-l", logFile, "start"]);
      return `${c} ${a.join(" ")}\n    psql ${pg.url("coffer")}`;
    },
  };
  await pg.start();
  return pg;
}

export interface OwnRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SIGKILL: nothing is saved (no RDB, no AOF), so the next start is empty. */
  kill(): Promise<void>;
}

export async function createRedis(dir: string): Promise<OwnRedis> {
  const port = await freePort();
  const logFile = join(dir, "redis.log");
  let proc: ChildProcess | undefined;
  const r: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    start: async () => {
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
      args.push("--maxmemory-policy", "noeviction", "--logfile", logFile, "--dir", dir);
      proc = spawn("redis-server", args, { stdio: "ignore" });
      await waitForPort(port, 20_000, "redis-server");
    },
    kill: async () => {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((res) => p.once("exit", res));
      p.kill("SIGKILL");
      await exited;
    },
  };
  await r.start();
  return r;
}
