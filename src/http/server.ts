import { createServer, type Server } from "node:http";
import type Koa from "koa";
import type { Config } from "../config.js";

/**
 * The web's HTTP server with deadlines: headers must arrive within HTTP_HEADERS_TIMEOUT_MS
 * and the whole request within HTTP_REQUEST_TIMEOUT_MS (Node's default is 300 s, which let a
 * never-ending chunked body hold a connection for minutes), checked every second rather than
 * Node's default 30 s. At most HTTP_MAX_CONNECTIONS sockets are open at once; Node closes
 * further ones as they arrive, so a flood of slow clients cannot exhaust the process's memory
 * or file descriptors (and the deadlines above free their slots within seconds).
 */
export function createWebServer(app: Koa, config: Config): Server {
  const server = createServer(
    {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: Math.max(config.HTTP_REQUEST_TIMEOUT_MS, config.HTTP_HEADERS_TIMEOUT_MS),
      connectionsCheckingInterval: 1_000,
    },
    app.callback(),
  );
  server.maxConnections = config.HTTP_MAX_CONNECTIONS;
  server.keepAliveTimeout = 65_000;
  return server;
}
