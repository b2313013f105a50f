import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { highWater } from "../src/http/server.js";
import { deliver, eventEnvelope } from "./support/events.js";
import { startWeb, type WebUnderTest } from "./support/hostile-system.js";

/**
 * Idle keep-alive connections count toward HTTP_MAX_CONNECTIONS (issue 11, leftover of item 3):
 * one client holding the whole cap in idle sockets, each kept open by Node for keepAliveTimeout
 * after its last answer, would lock everyone out, Stripe's webhooks included. Past the high-water
 * mark (7/8 of the cap) a new connection closes the idle ones; one mid-request is left alone.
 */
const CAP = 16;
let web: WebUnderTest;
beforeAll(async () => {
  web = await startWeb({ HTTP_MAX_CONNECTIONS: String(CAP) });
});
afterAll(async () => {
  await web?.stop();
});

const port = () => Number(new URL(web.url).port);

interface Held {
  socket: Socket;
  closed: boolean;
}

/** A connection that made one request, got its answer, and now sits idle (keep-alive). */
async function idleConnection(): Promise<Held> {
  const socket = connect(port(), "127.0.0.1");
  const held: Held = { socket, closed: false };
  socket.on("close", () => (held.closed = true));
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString();
      if (text.includes("\r\n\r\n") && text.endsWith("}")) resolve();
    });
    socket.on("close", () => reject(new Error(`closed before its answer: ${JSON.stringify(text)}`)));
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  });
  return held;
}

/** A connection whose request has begun and not finished (headers still arriving). */
function busyConnection(): Promise<Held> {
  return new Promise((resolve) => {
    const socket = connect(port(), "127.0.0.1", () => {
      socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      resolve(held);
    });
    const held: Held = { socket, closed: false };
    socket.on("close", () => (held.closed = true));
    socket.on("error", () => undefined);
  });
}

describe("idle keep-alive connections and the connection cap", () => {
  it("sets the high-water mark at 7/8 of the cap", () => {
    expect(highWater(1024)).toBe(896);
    expect(highWater(CAP)).toBe(14);
    expect(highWater(1)).toBe(1);
  });

  it("closes idle connections past the high-water mark, so a webhook still gets in", async () => {
    const busy = await busyConnection();
    // One client tries to hold the whole cap in idle keep-alive connections, reopening any
    // that are closed, as an attacker would.
    const held: Held[] = [];
    for (let i = 0; i < 3 * CAP; i++) {
      const open = held.filter((h) => !h.closed);
      if (open.length >= CAP - 1) break;
      held.push(await idleConnection());
    }
    // Let the server's closes reach this side before counting.
    await new Promise((r) => setTimeout(r, 200));
    const closedByServer = held.filter((h) => h.closed).length;
    expect(closedByServer).toBeGreaterThan(0);
    expect(held.filter((h) => !h.closed).length).toBeLessThan(CAP - 1);

    const res = await deliver(
      web.url,
      eventEnvelope("customer.created", { id: "cus_ka", object: "customer" }),
    );
    expect(res.status).toBe(200);
    // A request in flight is never one of the idle ones.
    expect(busy.closed).toBe(false);
    busy.socket.destroy();
    for (const h of held) h.socket.destroy();
  });
});
