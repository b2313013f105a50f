import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import Stripe from "stripe";
import type { SignedRequest } from "./load.js";

/** Stripe's own sample PaymentIntent, so the ingested body has a real event's size and shape. */
const FIXTURE = new URL("../../test/fixtures/stripe/resources/payment_intent.json", import.meta.url);

const stripeId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

/** Signs a payload exactly as Stripe does (HMAC-SHA256 over `t.payload`, `t=…,v1=…`). */
export function signedRequest(payload: string, secret: string): SignedRequest {
  const body = Buffer.from(payload, "utf8");
  return {
    body,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(body.length),
      "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload, secret }),
    },
  };
}

/**
 * A `payment_intent.succeeded` event with fresh `evt_` and `pi_` ids. No
 * worker runs during ingestion, so nothing ever looks the PaymentIntent up;
 * what matters is that every delivery is a new event, as in production, and
 * never a duplicate that would take the cheaper ON CONFLICT path.
 */
export function succeededEvent(template: Record<string, unknown>): string {
  const pi = stripeId("pi");
  const amount = 500 + Math.floor(Math.random() * 50_000);
  const now = Math.floor(Date.now() / 1000);
  return JSON.stringify({
    id: stripeId("evt"),
    object: "event",
    api_version: "2025-01-27.acacia",
    created: now,
    data: {
      object: {
        ...template,
        id: pi,
        amount,
        amount_received: amount,
        client_secret: `${pi}_secret_${randomBytes(12).toString("hex")}`,
        created: now,
        latest_charge: stripeId("ch"),
        last_payment_error: null,
        next_action: null,
        transfer_data: null,
        canceled_at: null,
        status: "succeeded",
        metadata: { purpose: "wallet_top_up", user_id: "bench_user", top_up_id: stripeId("top") },
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: stripeId("req"), idempotency_key: null },
    type: "payment_intent.succeeded",
  });
}

/** Signatures older than this are dropped from the pool, well inside the web's 300 s tolerance. */
const MAX_AGE_MS = 120_000;

/**
 * Signed deliveries made ahead of time, so a timed cell spends the client's
 * CPU on sending only. Should a cell outrun the pool, the rest are made on
 * the spot and counted in `inline`, which the report shows.
 */
export class PayloadPool {
  private readonly template: Record<string, unknown>;
  private items: Array<{ req: SignedRequest; madeAt: number }> = [];
  inline = 0;

  constructor(private readonly secret: string) {
    this.template = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, unknown>;
  }

  /** Tops the pool up to `target` fresh items; returns how long that took, in ms. */
  fill(target: number): number {
    const started = performance.now();
    const fresh = Date.now() - MAX_AGE_MS;
    this.items = this.items.filter((it) => it.madeAt > fresh);
    while (this.items.length < target) this.items.push({ req: this.make(), madeAt: Date.now() });
    return performance.now() - started;
  }

  take(): SignedRequest {
    const it = this.items.pop();
    if (it) return it.req;
    this.inline++;
    return this.make();
  }

  private make(): SignedRequest {
    return signedRequest(succeededEvent(this.template), this.secret);
  }
}
