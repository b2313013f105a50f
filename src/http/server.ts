import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
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
  server.on("clientError", answerClientError);
  server.keepAliveTimeout = 65_000;
  return server;
}

/**
 * What Node's parser refuses before Koa sees a request (a NUL in a header, a malformed request
 * line, oversized headers, a missed deadline) gets the same JSON error envelope as the rest of
 * the API instead of Node's bare text, and the socket is closed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // As Node's own handler: nothing is written once a response has begun, or to a gone client.
  if (err.code === "ECONNRESET" || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  const [status, reason, code] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "Request Timeout", "request_timeout"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large", "headers_too_large"]
        : [400, "Bad Request", "bad_request"];
  const body = JSON.stringify({
    error: {
      code,
      message: code === "bad_request" ? "the request could not be parsed" : reason.toLowerCase(),
      request_id: `req_${randomUUID().replaceAll("-", "")}`,
    },
  });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}
