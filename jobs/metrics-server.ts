import { createServer, type Server } from "node:http";
import type { Logger } from "../src/logger.js";
import type { Metrics } from "../src/metrics.js";

/**
 * Job durations, failures, postings and event lag are measured in the worker
 * process, so the worker serves its own `/metrics` for Prometheus to scrape
 * beside the web's. Port 0 turns it off (tests run several workers per machine).
 */
export function serveWorkerMetrics(metrics: Metrics, port: number, log: Logger): Server | null {
  if (port === 0) return null;
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  // A taken port must not take the worker down: it still does its jobs, unscraped.
  server.on("error", (err) => log.warn({ err, port }, "worker metrics server unavailable"));
  server.listen(port);
  return server;
}
