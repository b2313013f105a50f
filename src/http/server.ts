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
  closeIdleAtHighWater(server, config.HTTP_MAX_CONNECTIONS);
  return server;
}

/** Open connections at which idle keep-alive ones start to be closed: 7/8 of the cap. */
export const highWater = (maxConnections: number) => Math.max(1, Math.floor((maxConnections * 7) / 8));

/**
 * Idle keep-alive connections count toward HTTP_MAX_CONNECTIONS like busy ones, so one client
 * holding a thousand of them (each alive for keepAliveTimeout after its last answer) would lock
 * everyone else out, Stripe's webhooks included. Once the open connections reach the high-water
 * mark, each new one closes every idle connection (no request in flight; Node's own
 * closeIdleConnections): their clients reconnect when they need to, and the cap's last eighth
 * stays free for new ones. Not throttled: a client reopening fast could refill the cap between
 * throttled sweeps, and a sweep is one pass over at most HTTP_MAX_CONNECTIONS sockets, which
 * empties the idle ones, so the next is due only when the mark is reached again. A connection in
 * the middle of a request (or one that has sent nothing yet) is never closed here; those the
 * header and request deadlines bound.
 */
function closeIdleAtHighWater(server: Server, maxConnections: number): void {
  const mark = highWater(maxConnections);
  let open = 0;
  server.on("connection", (socket: Socket) => {
    open++;
    socket.once("close", () => open--);
    if (open >= mark) server.closeIdleConnections();
  });
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
