import "../src/heap.js";
import { loadConfigOrExit } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";
import { onShutdown } from "../src/shutdown.js";
import { startWorkers } from "./start-workers.js";

/** Worker entry point: runs the queues in WORKER_QUEUES (default all) until SIGTERM. */
const config = loadConfigOrExit();
const rt = createRuntime(config, "coffer-worker", "worker");
// Listening before the workers start: a stop during start-up waits for them, then drains them,
// instead of the default action killing the process half-started.
const starting = startWorkers(rt);
onShutdown(rt.logger, async () => (await starting).stop());
await starting;
rt.logger.info({ queues: config.WORKER_QUEUES }, "workers started");
