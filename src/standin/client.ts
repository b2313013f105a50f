import Stripe from "stripe";
import { HARNESS_API_KEY } from "./rate-limits.js";

/**
 * How a test or a benchmark plays Stripe's side against the stand-in: the real
 * SDK for what a platform could ask Stripe itself (refunds, transfers), and the
 * `/_standin` controls for what only Stripe or a bank decides (a customer
 * paying, disputes, onboarding, settlement). One copy, for test/ and scripts/.
 */

/**
 * The real SDK pointed at a stand-in, configured as Coffer configures it (no SDK retries), but
 * with the harness's own key: what a test does as the customer or as Stripe is not Coffer's
 * traffic, so it neither spends Coffer's rate limits nor shows up as Coffer's calls in the
 * request log (see HARNESS_API_KEY). Coffer itself uses `sk_test_standin` in tests.
 */
export function standinStripe(s: { host: string; port: number }): Stripe {
  return new Stripe(HARNESS_API_KEY, {
    host: s.host,
    port: s.port,
    protocol: "http",
    maxNetworkRetries: 0,
  });
}

/** One control call: status and JSON body, whatever the status. */
export async function controlCall<T = Record<string, unknown>>(
  standinUrl: string,
  path: string,
  body?: unknown,
  method = "POST",
) {
  const res = await fetch(`${standinUrl}/_standin${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

export interface StandinControl {
  stripe: Stripe;
  /** A control call that must succeed: a refusal fails the setup instead of hiding in it. */
  post(path: string, body?: unknown): Promise<Record<string, unknown>>;
}

export function standinControl(s: { url: string; host: string; port: number }): StandinControl {
  return {
    stripe: standinStripe(s),
    post: async (path, body = {}) => {
      const res = await controlCall(s.url, path, body);
      if (res.status < 200 || res.status >= 300)
        throw new Error(`stand-in ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
  };
}

/** mulberry32: a small seeded PRNG, so a failing random order or drop can be replayed from its seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
