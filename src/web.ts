import { loadConfigOrExit } from "./config.js";
import { createApp } from "./http/app.js";
import { createWebServer } from "./http/server.js";
import { closeQueues, createQueues, queueSettings } from "./queue/queues.js";
import { createRuntime, onShutdown } from "./runtime.js";

/** The web process: webhooks in, wallet API out. It does no money work itself. */
const config = loadConfigOrExit();
const rt = createRuntime(config, "coffer-web");
// The runtime's connection: the Stripe budget counts on it too.
const redis = rt.redis;
const queues = createQueues(redis, queueSettings(config));
const app = createApp({ ...rt, queues, redisPing: () => redis.ping() });
const server = createWebServer(app, config);
server.listen(config.PORT, () => rt.logger.info({ port: config.PORT }, "web listening"));

onShutdown(rt.logger, async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await closeQueues(queues);
  redis.disconnect();
  await rt.db.destroy();
});
