import "./heap.js";
import { loadConfigOrExit } from "./config.js";
import { createApp } from "./http/app.js";
import { createWebServer } from "./http/server.js";
import { closeQueues, createQueues, queueSettings } from "./queue/queues.js";
import { createRuntime } from "./runtime.js";
import { onShutdown } from "./shutdown.js";

/** The web process: webhooks in, wallet API out. It does no money work itself. */
const config = loadConfigOrExit();
const rt = createRuntime(config, "coffer-web", "web");
// The runtime's connection: the Stripe budget counts on it too.
const redis = rt.redis;
const queues = createQueues(redis, queueSettings(config));
// The rate limits count there as well, so every web process shares them.
const app = createApp({ ...rt, queues, redis, redisPing: () => redis.ping() });
const server = createWebServer(app, config);
server.listen(config.PORT, () => rt.logger.info({ port: config.PORT }, "web listening"));

onShutdown(rt.logger, async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await closeQueues(queues);
  redis.disconnect();
  await rt.db.destroy();
});
