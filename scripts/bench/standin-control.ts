import Stripe from "stripe";
import type { Standin } from "../../src/standin/index.js";

/**
 * Stripe's side of a scenario, played at the in-process stand-in: the SDK for
 * what a platform could ask Stripe itself (refunds), and the `/_standin`
 * controls for what only Stripe or a bank decides (disputes, onboarding,
 * settlement). The same few lines as test/support, which scripts must not import.
 */
export interface Control {
  stripe: Stripe;
  post(path: string, body?: unknown): Promise<Record<string, unknown>>;
}

export function control(standin: Standin): Control {
  return {
    // No SDK retries, as Coffer configures it: a failed call should fail the setup, not hide in it.
    stripe: new Stripe("sk_test_standin", {
      host: standin.host,
      port: standin.port,
      protocol: "http",
      maxNetworkRetries: 0,
    }),
    post: async (path, body = {}) => {
      const res = await fetch(`${standin.url}/_standin${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`stand-in ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
  };
}
