import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { handleApiRequest } from "./api.js";
import { handleControl } from "./control.js";
import type { Runtime } from "./runtime.js";

// Stripe refuses large bodies too; nothing Coffer sends comes near this.
const MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body, null, 2));
}

async function onRequest(rt: Runtime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? "GET").toUpperCase();
  const url = new URL(req.url ?? "/", "http://standin.invalid");
  const body = await readBody(req);
  if (url.pathname.startsWith("/_standin/")) {
    const reply = handleControl(rt, method, url.pathname, body);
    sendJson(res, reply.status, reply.body);
    return;
  }
  const reply = await handleApiRequest(rt, {
    method,
    path: url.pathname,
    query: url.search.slice(1),
    body,
    headers: req.headers,
  });
  const idempotencyKey = reply.headers["idempotency-key"];
  const account = reply.headers["stripe-account"];
  rt.requestLog.push({
    method,
    path: url.pathname,
    key: reply.apiKey,
    ...(account === undefined ? {} : { account }),
    status: reply.status,
    at: reply.at,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(reply.rateLimited === undefined ? {} : { rateLimited: reply.rateLimited }),
    ...(reply.replayed ? { replayed: true as const } : {}),
    ...(reply.drop ? { dropped: true as const } : {}),
  });
  rt.logger.info(
    { method, path: url.pathname, status: reply.status, dropped: reply.drop },
    "stand-in request",
  );
  if (reply.drop) {
    // The action took effect (and its result is saved under the idempotency key), but the
    // client sees the connection die: a timeout after Stripe acted.
    req.socket.destroy();
    return;
  }
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

export function createStandinServer(rt: Runtime): Server {
  return createServer((req, res) => {
    onRequest(rt, req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof BodyTooLarge)
        return sendJson(res, 413, { error: { message: "Request body too large" } });
      rt.logger.warn({ err: String(err) }, "stand-in request failed");
      sendJson(res, 500, { error: { type: "api_error", message: "An unknown error occurred" } });
    });
  });
}

export async function listen(
  server: Server,
  port: number,
  host = "127.0.0.1",
): Promise<{ host: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { host, port: (server.address() as AddressInfo).port };
}

export async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) =>
    server.close((err) => (err ? reject(err) : resolve())),
  );
  // Keep-alive sockets held by stripe clients would otherwise keep close() waiting.
  server.closeAllConnections();
  await closed;
}
