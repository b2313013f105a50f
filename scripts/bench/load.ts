import http from "node:http";
import { summarize } from "./stats.js";

/** One ready-to-send webhook delivery: body bytes and headers are built before any clock starts. */
export interface SignedRequest {
  body: Buffer;
  headers: http.OutgoingHttpHeaders;
}

export interface LoadResult {
  connections: number;
  measuredS: number;
  /** 2xx responses per second inside the measured window. */
  rps: number;
  ok: number;
  /** Non-2xx responses and transport errors inside the measured window. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  statuses: Record<string, number>;
  /**
   * The server process's own CPU per answered request inside the window, in ms.
   * Unlike req/s it hardly moves when other work shares the machine, so it
   * shows what each request costs the server even on a noisy box.
   */
  serverCpuMsPerReq: number;
  /** Share of one core the server used inside the window, in %. */
  serverCpuPct: number;
}

/**
 * Closed-loop load: `connections` loops, each with its own keep-alive socket
 * (the Agent caps sockets at the loop count), sending the next request as soon
 * as the previous answer has been read, like wrk. Only responses that arrive
 * inside the measured window count, so the warm-up's JIT and pool growth and
 * the tail after the deadline stay out of the numbers.
 */
export async function runTimed(o: {
  url: string;
  connections: number;
  warmupMs: number;
  measureMs: number;
  next: () => SignedRequest;
  /** The server's cumulative CPU time in ms, sampled at the window's edges. */
  serverCpuMs?: () => number;
}): Promise<LoadResult> {
  const target = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const measureFrom = performance.now() + o.warmupMs;
  const until = measureFrom + o.measureMs;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  const cpu = { from: Number.NaN, to: Number.NaN };
  const sample = o.serverCpuMs ?? (() => Number.NaN);
  const timers = [
    setTimeout(() => (cpu.from = sample()), o.warmupMs),
    setTimeout(() => (cpu.to = sample()), o.warmupMs + o.measureMs),
  ];

  const loop = async () => {
    while (performance.now() < until) {
      const req = o.next();
      const started = performance.now();
      const status = await send(agent, target, req).then(String, errorLabel);
      const ended = performance.now();
      if (ended < measureFrom || ended > until) continue;
      latencies.push(ended - started);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status.startsWith("2")) ok++;
    }
  };
  try {
    await Promise.all(Array.from({ length: o.connections }, loop));
  } finally {
    agent.destroy();
    for (const t of timers) clearTimeout(t);
  }
  const measuredS = o.measureMs / 1000;
  const cpuMs = cpu.to - cpu.from;
  return {
    connections: o.connections,
    measuredS,
    rps: ok / measuredS,
    ok,
    errors: latencies.length - ok,
    ...summarize(latencies),
    statuses,
    serverCpuMsPerReq: cpuMs / latencies.length,
    serverCpuPct: (cpuMs / o.measureMs) * 100,
  };
}

/**
 * Sends every request exactly once (retrying refusals, since a lost event
 * would leave the worker phase waiting forever) over `connections` sockets.
 * Returns how long it took and how many requests never got a 2xx.
 */
export async function postAll(
  url: string,
  connections: number,
  requests: readonly SignedRequest[],
  attempts = 5,
): Promise<{ seconds: number; retries: number; lost: number }> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let nextIndex = 0;
  let retries = 0;
  let lost = 0;
  const started = performance.now();
  const loop = async () => {
    for (let i = nextIndex++; i < requests.length; i = nextIndex++) {
      for (let attempt = 1; ; attempt++) {
        const status = await send(agent, target, requests[i]!).then(String, errorLabel);
        if (status.startsWith("2")) break;
        if (attempt >= attempts) {
          lost++;
          break;
        }
        retries++;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, loop));
  } finally {
    agent.destroy();
  }
  return { seconds: (performance.now() - started) / 1000, retries, lost };
}

export function send(agent: http.Agent, target: URL, r: SignedRequest): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: r.headers,
      },
      (res) => {
        // The body is drained but not parsed: the status is all a webhook sender looks at.
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
        res.once("error", reject);
      },
    );
    req.once("error", reject);
    req.end(r.body);
  });
}

export function errorLabel(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "transport_error";
}
