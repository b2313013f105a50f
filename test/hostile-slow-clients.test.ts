import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sign } from "./support/events.js";
import { metric, startWeb, type WebUnderTest } from "./support/hostile-system.js";

/**
 * Slow and vanishing clients (issue 11, items 3 and 4), against the server src/web.ts builds:
 * a body that never ends and headers that trickle are cut within their deadlines, a client
 * that goes away is its own 400-class outcome (no error line, no 503, no `too_large`), and
 * the webhook answers a request without a signature before reading its body.
 */
let web: WebUnderTest;
beforeAll(async () => {
  web = await startWeb({
    WEBHOOK_BODY_TIMEOUT_MS: "800",
    HTTP_HEADERS_TIMEOUT_MS: "1500",
    HTTP_REQUEST_TIMEOUT_MS: "3000",
  });
});
afterAll(async () => {
  await web?.stop();
});

const port = () => Number(new URL(web.url).port);

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port(), "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
}

/** Everything the server sends until it closes the socket, and how long that took. */
function untilClosed(s: Socket): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  let text = "";
  s.on("data", (d: Buffer) => (text += d.toString()));
  return new Promise((resolve) => s.on("close", () => resolve({ text, ms: Date.now() - started })));
}

const webhookHead = (extra = "") =>
  `POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
  `Transfer-Encoding: chunked\r\n${extra}\r\n`;
const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

const errorLines = () => web.lines.filter((l) => typeof l.level === "number" && l.level >= 50).length;
const series = {
  tooLarge: 'coffer_webhooks_rejected_total{reason="too_large"}',
  aborted: "coffer_webhooks_aborted_total",
};

describe("deadlines", () => {
  it("cuts a webhook body that never ends at the body deadline, 400 body_timeout", async () => {
    const [errors, aborted, tooLarge] = [
      errorLines(),
      await metric(web.url, series.aborted),
      await metric(web.url, series.tooLarge),
    ];
    const s = await open();
    const closed = untilClosed(s);
    s.write(webhookHead(`Stripe-Signature: ${sign("{}")}\r\n`) + chunk('{"id":'));
    const trickle = setInterval(() => s.writable && s.write(chunk(" ")), 200);
    const { text, ms } = await closed;
    clearInterval(trickle);
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain('"code":"body_timeout"');
    expect(ms).toBeLessThan(2_500);
    expect(errorLines()).toBe(errors);
    expect(await metric(web.url, series.aborted)).toBe(aborted + 1);
    expect(await metric(web.url, series.tooLarge)).toBe(tooLarge);
  });

  it("cuts headers that trickle at the headers deadline", async () => {
    const s = await open();
    const closed = untilClosed(s);
    s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    const trickle = setInterval(() => s.writable && s.write("X-Slow: y\r\n"), 200);
    const { text, ms } = await closed;
    clearInterval(trickle);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('"code":"request_timeout"');
    // The deadline (1.5 s) plus Node's once-a-second check.
    expect(ms).toBeLessThan(3_500);
  });

  it("200 slow connections leave a normal request's latency unharmed", async () => {
    const slow = await Promise.all(Array.from({ length: 200 }, () => open()));
    const closedAll = slow.map(untilClosed);
    for (const s of slow) s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    const started = performance.now();
    const res = await fetch(`${web.url}/readyz`);
    const ms = performance.now() - started;
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(500);
    await Promise.all(closedAll);
  });
});

describe("a client that goes away", () => {
  it("is its own outcome: no error line, no 503, no too_large", async () => {
    const [errors, aborted, tooLarge] = [
      errorLines(),
      await metric(web.url, series.aborted),
      await metric(web.url, series.tooLarge),
    ];
    const s = await open();
    s.write(webhookHead(`Stripe-Signature: ${sign("{}")}\r\n`) + chunk('{"id":"evt_'));
    await new Promise((r) => setTimeout(r, 100));
    s.destroy();
    const metrics = async () => (await fetch(`${web.url}/metrics`)).text();
    for (let i = 0; i < 50 && (await metric(web.url, series.aborted)) === aborted; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await metric(web.url, series.aborted)).toBe(aborted + 1);
    expect(await metric(web.url, series.tooLarge)).toBe(tooLarge);
    expect(errorLines()).toBe(errors);
    expect(await metrics()).not.toMatch(/status="503"/);
  });
});

describe("no signature, no body read", () => {
  it("answers 400 webhook_signature_missing before the body has arrived", async () => {
    const s = await open();
    const closed = untilClosed(s);
    s.write(webhookHead() + chunk("x".repeat(1000)));
    // The body never finishes: an answer can only come from not reading it.
    const { text, ms } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain('"code":"webhook_signature_missing"');
    expect(ms).toBeLessThan(700);
  });
});

describe("what Node's parser refuses", () => {
  it.each([
    [
      "a NUL in a header",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\u0000b\r\n\r\n",
      400,
      "bad_request",
    ],
    ["a malformed request line", "GET /healthz\u0000 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"],
    [
      "64 KB of headers",
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"y".repeat(65_536)}\r\n\r\n`,
      431,
      "headers_too_large",
    ],
  ])("answers %s with the JSON envelope (%i %s)", async (_name, raw, status, code) => {
    const s = await open();
    const closed = untilClosed(s);
    s.write(raw);
    const { text } = await closed;
    expect(text).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(text).toContain("Content-Type: application/json");
    expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: { code } });
  });
});

describe("the connection cap", () => {
  it("closes connections beyond HTTP_MAX_CONNECTIONS at once", async () => {
    const capped = await startWeb({ HTTP_MAX_CONNECTIONS: "5" });
    try {
      const p = Number(new URL(capped.url).port);
      const dial = () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(p, "127.0.0.1", () => resolve(s));
          s.on("error", reject);
        });
      const held = await Promise.all(Array.from({ length: 5 }, dial));
      for (const s of held) s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      await new Promise((r) => setTimeout(r, 100));
      const extra = await dial();
      const { text, ms } = await untilClosed(extra);
      expect(text).toBe("");
      expect(ms).toBeLessThan(1_000);
      for (const s of held) s.destroy();
    } finally {
      await capped.stop();
    }
  });
});
