import http from "node:http";
import { errorLabel, send, type SignedRequest } from "./load.js";
import { summarize } from "./stats.js";

export interface CountResult {
  seconds: number;
  /** One status per request, in the list's order ("201", "409", "ECONNRESET"…). */
  statusOf: string[];
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The server's CPU over the whole run, in ms (NaN without a sampler). */
  serverCpuMs: number;
}

/**
 * Closed-loop load over a fixed list, each request sent exactly once and
 * never retried: `connections` loops, each with its own keep-alive socket,
 * send the next request as soon as they have read an answer. Unlike
 * `runTimed`, every request counts, because each one moves state (a hold)
 * that the caller checks afterwards.
 */
export async function runFixedCount(o: {
  url: string;
  connections: number;
  requests: readonly SignedRequest[];
  serverCpuMs?: () => number;
}): Promise<CountResult> {
  const target = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const latencies: number[] = [];
  const statusOf = new Array<string>(o.requests.length);
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < o.requests.length; i = next++) {
      const started = performance.now();
      statusOf[i] = await send(agent, target, o.requests[i]!).then(String, errorLabel);
      latencies.push(performance.now() - started);
    }
  };
  const sample = o.serverCpuMs ?? (() => Number.NaN);
  const cpuBefore = sample();
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: Math.min(o.connections, o.requests.length) }, loop));
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  const serverCpuMs = sample() - cpuBefore;
  const statuses: Record<string, number> = {};
  for (const s of statusOf) statuses[s] = (statuses[s] ?? 0) + 1;
  return { seconds, statusOf, statuses, ...summarize(latencies), serverCpuMs };
}
