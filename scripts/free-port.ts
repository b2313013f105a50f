import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A loopback port nothing is bound to right now, for a child process (a web, a redis-server, a
 * Postgres) to bind a moment later. The bench, the soak and the tests all take theirs here.
 *
 * Picked below the machine's ephemeral range rather than by listen(0): listen(0) draws from that
 * range, and so does the local port of every outgoing connection on the machine (other test
 * files' Postgres, Redis and HTTP clients), so a port found free could be taken by a connection
 * before the child binds it; the child then fails to start. CI lost a run to that.
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  const high = ephemeralLow() - 1;
  for (let tries = 0; tries < 1_000; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}

function ephemeralLow(): number {
  try {
    const [from] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const n = Number(from);
    if (Number.isInteger(n) && n > 11_000) return n;
  } catch {
    /* not Linux: the IANA range's start */
  }
  return 49_152;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}
