import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { producerConnection } from "../src/queue/redis.js";
import { startStandin, type Standin } from "../src/standin/index.js";
import { createStripeBudget, StripeBudgetExhausted } from "../src/stripe/budget.js";
import { REDIS_URL } from "./support/pg-urls.js";

/**
 * One Stripe budget for every process: two processes, each a busy client of its own, send
 * together no more than STRIPE_MAX_RPS in any second as the stand-in measures it. The control
 * case gives each process a budget of its own and shows the measurement would catch a budget
 * that is not shared.
 */
const ROOT = new URL("../", import.meta.url).pathname;
const MAX_RPS = 20;
/**
 * A slot is granted at the client and counted where the request lands, a network hop and an
 * event loop later, so two requests granted 1,000 ms apart can land 990 ms apart on a loaded
 * machine. This much of a second's count is that jitter; it is why the budget's default sits
 * below Stripe's own 25 a second, and the control case sends well past it.
 */
const JITTER = 2;

let standin: Standin;
beforeAll(async () => {
  standin = await startStandin({ logger: { info: () => undefined, warn: () => undefined } });
});
afterAll(async () => standin?.close());

interface Counts {
  done: number;
  exhausted: number;
  limited429: number;
}

function runClient(prefix: string, count: number, startAt: number): Promise<Counts> {
  const proc = spawn(process.execPath, ["--import", "tsx", "test/support/budget-client.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL,
      STANDIN_URL: standin.url,
      STRIPE_MAX_RPS: String(MAX_RPS),
      BUDGET_PREFIX: prefix,
      COUNT: String(count),
      CONCURRENCY: "8",
      START_AT: String(startAt),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    proc.on("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim()) as Counts)
        : reject(new Error(`client exited ${code}: ${err}`)),
    ),
  );
}

/** The most requests that arrived within any 1,000 ms (a sliding window, as Stripe counts). */
function busiestSecond(times: number[]): number {
  const t = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

async function twoProcesses(prefixes: [string, string], perProcess: number) {
  const before = standin.requests().length;
  // Both start at the same moment, well after tsx has loaded them.
  const startAt = Date.now() + 4_000;
  const counts = await Promise.all(prefixes.map((p) => runClient(p, perProcess, startAt)));
  // When the stand-in took each request (its body read): the time its rate limits count.
  const arrivals = standin
    .requests()
    .slice(before)
    .map((r) => r.at);
  return {
    counts,
    arrivals,
    busiest: busiestSecond(arrivals),
    spanMs: Math.max(...arrivals) - Math.min(...arrivals),
  };
}

describe("the shared Stripe budget", () => {
  it("holds two processes together to STRIPE_MAX_RPS in every second", { timeout: 60_000 }, async () => {
    const prefix = `test-budget-${randomUUID()}`;
    const { counts, busiest, spanMs, arrivals } = await twoProcesses([prefix, prefix], 40);
    expect(counts.map((c) => c.done)).toEqual([40, 40]);
    expect(counts.map((c) => c.limited429)).toEqual([0, 0]);
    expect(arrivals).toHaveLength(80);
    expect(busiest).toBeLessThanOrEqual(MAX_RPS + JITTER);
    // And it really paced them: 80 requests at under 20 a second take more than 3 seconds.
    expect(spanMs).toBeGreaterThan(3_000);
  });

  it("(control) two budgets of their own send more than STRIPE_MAX_RPS", { timeout: 60_000 }, async () => {
    const { counts, busiest } = await twoProcesses(
      [`test-budget-${randomUUID()}`, `test-budget-${randomUUID()}`],
      30,
    );
    expect(counts.map((c) => c.done + c.limited429)).toEqual([30, 30]);
    expect(busiest).toBeGreaterThan(MAX_RPS + JITTER);
  });

  it("waits up to a second for a slot, then says when to come back", async () => {
    const redis = producerConnection(REDIS_URL);
    redis.on("error", () => undefined);
    try {
      // Two a second (one slot a second): the first call goes at once, the second waits for the
      // next slot, and a third cannot get one within a second of asking.
      const budget = createStripeBudget({ redis, maxRps: 2, keyPrefix: `test-budget-${randomUUID()}` });
      await budget.take();
      const started = Date.now();
      const results = await Promise.allSettled([budget.take(), budget.take(), budget.take()]);
      expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThanOrEqual(1);
      const refused = results.filter((r) => r.status === "rejected");
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const r of refused) {
        expect(r.reason).toBeInstanceOf(StripeBudgetExhausted);
        expect((r.reason as StripeBudgetExhausted).retryAfterMs).toBeGreaterThan(0);
      }
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      redis.disconnect();
    }
  });

  it("keeps a local budget when Redis is unreachable instead of failing Stripe calls", async () => {
    const redis = producerConnection("redis://127.0.0.1:1");
    redis.on("error", () => undefined);
    try {
      const budget = createStripeBudget({ redis, maxRps: 20, keyPrefix: `test-budget-${randomUUID()}` });
      const started = Date.now();
      for (let i = 0; i < 6; i++) await budget.take();
      // Six slots of 56 ms, the first one already under way: paced locally, not refused, not unlimited.
      expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 56 - 5);
    } finally {
      redis.disconnect();
    }
  });

  it("is configured by STRIPE_MAX_RPS, 20 by default, validated at startup", () => {
    expect(loadConfig({}).STRIPE_MAX_RPS).toBe(20);
    expect(loadConfig({ STRIPE_MAX_RPS: "80" }).STRIPE_MAX_RPS).toBe(80);
    for (const bad of ["1", "0", "2.5", "fast"]) {
      const err = (() => {
        try {
          loadConfig({ STRIPE_MAX_RPS: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join("\n")).toContain("STRIPE_MAX_RPS");
    }
  });
});
