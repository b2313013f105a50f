import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { loadConfig, type Config } from "../../src/config.js";
import { createApp } from "../../src/http/app.js";
import { createWebServer } from "../../src/http/server.js";
import { createMetrics } from "../../src/metrics.js";
import { closeQueues, createQueues, queueSettings, type Queues } from "../../src/queue/queues.js";
import { producerConnection } from "../../src/queue/redis.js";
import { budgetedStripe } from "../../src/runtime.js";
import { startStandin, type Standin } from "../../src/standin/index.js";
import { createTestDb, type TestDb } from "./db.js";
import { REDIS_URL } from "./pg-urls.js";
import { JWT_SECRET, WEBHOOK_SECRET } from "./tokens.js";

/**
 * The web process as src/web.ts builds it (createWebServer: its deadlines and connection
 * cap), with no workers, and a logger whose lines the test can read: the hostile-input
 * suites assert what is logged (`alert: true`, no error line) as well as what is answered.
 */
export interface WebUnderTest {
  url: string;
  config: Config;
  tdb: TestDb;
  queues: Queues;
  lines: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * `o.tdb`: a database the test already made (and seeded); it is the test's to drop, so `stop`
 * leaves it.
 */
export async function startWeb(
  env: Record<string, string> = {},
  o: { tdb?: TestDb } = {},
): Promise<WebUnderTest> {
  const tdb = o.tdb ?? (await createTestDb());
  const standin: Standin = await startStandin({ webhookSecret: WEBHOOK_SECRET });
  const config = loadConfig({
    NODE_ENV: "test",
    DATABASE_URL: tdb.url,
    REDIS_URL,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    AUTH_JWT_SECRET: JWT_SECRET,
    STRIPE_API_BASE: standin.url,
    QUEUE_PREFIX: `test-${randomUUID()}`,
    LOG_LEVEL: "info",
    // Limits off: tests send many requests; test/rate-limit-*.test.ts turn them on.
    RATE_LIMIT_PER_MINUTE: "0",
    WEBHOOK_REFUSALS_PER_MINUTE: "0",
    ...env,
  });
  const redis = producerConnection(config.REDIS_URL);
  redis.on("error", () => undefined);
  // The limits count in Redis once it is ready and in memory before (src/http/limit-window.ts):
  // a test's first requests must not be split between the two. Bounded, for the tests that
  // point REDIS_URL at nothing.
  await Promise.race([
    new Promise((r) => (redis.status === "ready" ? r(undefined) : redis.once("ready", r))),
    new Promise((r) => setTimeout(r, 3_000)),
  ]);
  const queues = createQueues(redis, queueSettings(config));
  const lines: WebUnderTest["lines"] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as never);
      cb();
    },
  });
  const app = createApp({
    config,
    db: tdb.db,
    queues,
    redis,
    redisPing: () => redis.ping(),
    stripe: budgetedStripe(config, redis, standin.url),
    logger: pino({ level: "info" }, sink),
    metrics: createMetrics(),
  });
  const server = createWebServer(app, config);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    config,
    tdb,
    queues,
    lines,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await standin.close();
      const cleanQueues = async () => {
        for (const q of Object.values(queues)) await q.obliterate({ force: true }).catch(() => undefined);
        await closeQueues(queues);
      };
      // Bounded: with a Redis that is away (a test may point REDIS_URL at nothing) BullMQ waits forever.
      await Promise.race([cleanQueues(), new Promise((r) => setTimeout(r, 10_000))]);
      redis.disconnect();
      if (!o.tdb) await tdb.drop();
    },
  };
}

/** A metric's value from /metrics (0 when the series does not exist yet). */
export async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
