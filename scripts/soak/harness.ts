import { Agent, request } from "node:http";
import Stripe from "stripe";
import { HARNESS_API_KEY } from "../../src/standin/index.js";

/**
 * The soak playing the customer and Stripe at the stand-in: the SDK with the harness's key
 * (never rate limited, never faulted) and the `/_standin` controls. Neither reuses connections:
 * on a loaded machine a reused keep-alive socket the server has just closed fails the request,
 * and a control (open a dispute, fail a refund) is not safe to send twice. SDK calls may be
 * retried, since the SDK then sends an idempotency key the stand-in honours.
 */
export interface Harness {
  stripe: Stripe;
  /** A control that must succeed; a refusal is a bug in the soak. */
  post(path: string, body?: object): Promise<Record<string, unknown>>;
  /** A control whose refusal is part of the story (a declined card). */
  tryPost(path: string, body?: object): Promise<{ status: number; body: Record<string, unknown> }>;
}

export function harnessFor(s: { host: string; port: number }): Harness {
  const stripe = new Stripe(HARNESS_API_KEY, {
    host: s.host,
    port: s.port,
    protocol: "http",
    maxNetworkRetries: 3,
    timeout: 60_000,
    httpAgent: new Agent({ keepAlive: false }),
  });
  const tryPost = (path: string, body: object = {}) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = request(
        {
          host: s.host,
          port: s.port,
          method: "POST",
          path: `/_standin${path}`,
          agent: false,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            try {
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
              });
            } catch (err) {
              reject(err as Error);
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`stand-in control ${path} timed out`)));
      req.on("error", reject);
      req.end(payload);
    });
  return {
    stripe,
    tryPost,
    post: async (path, body) => {
      const res = await tryPost(path, body);
      if (res.status < 200 || res.status >= 300)
        throw new Error(`stand-in ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
  };
}
