import { loadConfigOrExit } from "../src/config.js";
import { createRuntime, onShutdown } from "../src/runtime.js";
import { startWorkers } from "./start-workers.js";

/** Worker entry point: runs the queues in WORKER_QUEUES (default all) until SIGTERM. */
const config = loadConfigOrExit();
const rt = createRuntime(config, "coffer-worker");
const running = await startWorkers(rt);
rt.logger.info({ queues: config.WORKER_QUEUES }, "workers started");
onShutdown(rt.logger, running.stop);
