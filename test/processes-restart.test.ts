import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, type TestDb } from "./support/db.js";
import { REDIS_URL } from "./support/pg-urls.js";
import {
  exitWithin,
  expectNoneLeft,
  freePort,
  killMarked,
  launch,
  markedProcesses,
  portIsFree,
  tail,
  waitForOk,
  type Launched,
} from "./support/processes.js";

/**
 * `npm start` offline, as the README runs it (its own stand-in, the demo script as the customer):
 * a worker that dies is started again with a doubling backoff and a line saying so, instead of
 * the whole system stopping; and when `npm start` itself is killed outright (SIGKILL, so it can
 * forward nothing), web and worker notice their parent is gone and drain by themselves.
 */
let tdb: TestDb;
let env: Record<string, string>;
let system: Launched;

beforeAll(async () => {
  tdb = await createTestDb();
  env = {
    DATABASE_URL: tdb.url,
    DATABASE_OWNER_URL: tdb.ownerUrl,
    REDIS_URL,
    QUEUE_PREFIX: `test-${randomUUID()}`,
    PORT: String(await freePort()),
    WORKER_METRICS_PORT: String(await freePort()),
    STRIPE_API_BASE: `http://127.0.0.1:${await freePort()}`,
    BALANCE_STREAM_INTERVAL_MS: "0",
    LOG_LEVEL: "info",
  };
  system = launch("npm", ["start"], env);
  await waitForOk(`http://127.0.0.1:${env.PORT}/readyz`).catch((err: Error) => {
    throw new Error(`${err.message}\n${tail(system.lines)}`);
  });
});

afterAll(async () => {
  if (system) killMarked(system.mark);
  await tdb?.drop();
});

async function demoTopUp(user: string, amountMinor: number): Promise<string> {
  const demo = launch("npm", ["run", "-s", "demo:top-up", "--", user, String(amountMinor), "usd"], env);
  const exit = await exitWithin(demo, 60_000);
  expect(exit.code, tail(demo.lines)).toBe(0);
  return demo.lines.join("\n");
}

const pidIn = (line: string) => Number(/pid (\d+)/.exec(line)![1]);

describe("npm start keeps the system up", () => {
  it("restarts a crashed worker with a doubling backoff", { timeout: 180_000 }, async () => {
    await system.waitForLine(/"msg":"workers started"/);
    expect(await demoTopUp("alice", 2500)).toMatch(/available_minor 0 -> 2500/);

    const first = pidIn(await system.waitForLine(/^\[start\] worker started/));
    process.kill(first, "SIGKILL");
    await system.waitForLine(/worker exited unexpectedly \(SIGKILL\); restarting in 1000 ms \(restart 1\)/);
    const second = pidIn(await system.waitForLine(new RegExp(`worker started \\(pid (?!${first}\\))`)));
    process.kill(second, "SIGKILL");
    const crashedAt = Date.now();
    await system.waitForLine(/worker exited unexpectedly \(SIGKILL\); restarting in 2000 ms \(restart 2\)/);
    const third = pidIn(
      await system.waitForLine(new RegExp(`worker started \\(pid (?!(?:${first}|${second})\\))`)),
    );
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(1_900);
    expect(system.lines.some((l) => l.startsWith("[start] web exited"))).toBe(false);

    // The web never went away, and the new worker does the work.
    expect(await demoTopUp("bob", 1200)).toMatch(/available_minor 0 -> 1200/);
    expect(markedProcesses(system.mark).some((p) => p.pid === third)).toBe(true);
  });

  it(
    "web and worker drain by themselves when npm start is killed outright",
    { timeout: 120_000 },
    async () => {
      const starter = markedProcesses(system.mark).find((p) => p.cmd.includes("scripts/start.ts"));
      expect(starter, "the node process running scripts/start.ts").toBeDefined();
      process.kill(starter!.pid, "SIGKILL");
      await exitWithin(system, 30_000); // npm follows its child

      // Each polls its parent every second, then drains (the worker's jobs, the web's requests).
      await expectNoneLeft(system.mark, 30_000);
      // Gone is not yet read: their last lines may still be in the pipe.
      await system.closed;
      expect(system.lines.filter((l) => l.includes('"reason":"parent_exited"')).length).toBe(2);
      for (const port of [env.PORT, env.WORKER_METRICS_PORT, new URL(env.STRIPE_API_BASE!).port])
        expect(await portIsFree(Number(port))).toBe(true);
    },
  );
});
