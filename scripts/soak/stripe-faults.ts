import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Random } from "./random.js";

/**
 * A proxy between Coffer and the stand-in that makes Stripe unreliable at the rates the soak
 * asks for: some requests answer 500 or 429 without reaching the stand-in (nothing happened,
 * nothing is saved under the idempotency key), some reach it and then lose their connection
 * before the answer (the action took effect; the client cannot know). The stand-in behind it
 * still enforces Stripe's own rate limits. Only Coffer's traffic passes here: the soak plays the
 * customer and Stripe directly against the stand-in, as that traffic is not Coffer's.
 */
export interface FaultRates {
  error500: number;
  error429: number;
  dropAfter: number;
}

export interface StripeFaults {
  url: string;
  /** Faults are injected only while on (the soak's fault window). */
  on: boolean;
  counts: { requests: number; error500: number; error429: number; dropAfter: number };
  close(): Promise<void>;
}

const ERROR_500 = { error: { type: "api_error", message: "An unknown error occurred" } };
const ERROR_429 = {
  error: {
    type: "invalid_request_error",
    code: "rate_limit",
    message:
      "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
  },
};

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "request-id": `req_soak_${Date.now()}` });
  res.end(JSON.stringify(body));
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startStripeFaults(
  target: { host: string; port: number },
  rates: FaultRates,
  rand: Random,
): Promise<StripeFaults> {
  const counts = { requests: 0, error500: 0, error429: 0, dropAfter: 0 };
  const state = { on: false };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      counts.requests += 1;
      const isApi = (req.url ?? "").startsWith("/v1/");
      // One draw per request, in arrival order; the thresholds stack: 500, then 429, then drop.
      const x = rand.next();
      if (state.on && isApi && x < rates.error500)
        return void (counts.error500++, answer(res, 500, ERROR_500));
      if (state.on && isApi && x < rates.error500 + rates.error429)
        return void (counts.error429++, answer(res, 429, ERROR_429));
      const drop = state.on && isApi && x < rates.error500 + rates.error429 + rates.dropAfter;
      const upstream = request(
        { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          void readAll(up).then((payload) => {
            if (drop) {
              counts.dropAfter += 1;
              req.socket.destroy(); // the stand-in acted; the answer never arrives
              return;
            }
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(payload);
          });
        },
      );
      upstream.on("error", (err) => answer(res, 502, { error: { type: "api_error", message: String(err) } }));
      upstream.end(body);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get on() {
      return state.on;
    },
    set on(v: boolean) {
      state.on = v;
    },
    counts,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
