import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Koa from "koa";
import { loadConfig } from "../../src/config.js";
import { createDb } from "../../src/db/knex.js";
import { createApp } from "../../src/http/app.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { closeQueues, createQueues } from "../../src/queue/queues.js";
import { producerConnection } from "../../src/queue/redis.js";
import { createStripeClient } from "../../src/stripe/client.js";
import { REDIS_URL } from "./pg-urls.js";
import { JWT_SECRET } from "./tokens.js";

/**
 * The app as createApp builds it, listening, with real clients it never needs to reach: no
 * database is opened and Stripe is nowhere. Enough to read /openapi.json and walk the routers.
 */
export async function serveWithoutDatabase(prefix: string): Promise<{
  app: Koa;
  url: string;
  stop(): Promise<void>;
}> {
  const config = loadConfig({ NODE_ENV: "test", QUEUE_PREFIX: prefix, AUTH_JWT_SECRET: JWT_SECRET });
  const redis = producerConnection(REDIS_URL);
  redis.on("error", () => undefined);
  const queues = createQueues(redis, { prefix: config.QUEUE_PREFIX, attempts: 1, backoffMs: 1 });
  const db = createDb("postgres://root@127.0.0.1:1/never-opened");
  const app = createApp({
    config,
    db,
    queues,
    redis,
    redisPing: () => redis.ping(),
    stripe: createStripeClient({
      secretKey: "sk_test_openapi",
      apiBase: "http://127.0.0.1:1",
      timeoutMs: 1_000,
    }),
    logger: createLogger("silent"),
    metrics: createMetrics(),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    app,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      await new Promise((r) => server.close(r));
      await closeQueues(queues);
      redis.disconnect();
      await db.destroy();
    },
  };
}
