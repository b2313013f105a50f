import { setTimeout as sleep } from "node:timers/promises";
import Stripe from "stripe";
import type { StripeEvent } from "./events.js";

export interface WebhookEndpoint {
  url: string;
  secret: string;
}

export interface DeliveryLogger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

/** Retries after the first attempt; backoff is RETRY_BASE_MS × retry number. */
const MAX_RETRIES = 5;
const RETRY_BASE_MS = 200;
const ATTEMPT_TIMEOUT_MS = 10_000;

/**
 * Delivers events to one endpoint, always outside the API request that created them. First
 * attempts go out one at a time in creation order; a failed delivery retries on its own timeline,
 * so later events overtake it, just as Stripe never promises order.
 */
export class WebhookQueue {
  #tail: Promise<unknown> = Promise.resolve();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #closing = new AbortController();

  constructor(private readonly logger: DeliveryLogger) {}

  /** Queues a delivery to the endpoint configured when the event was created. */
  enqueue(event: StripeEvent, endpoint: WebhookEndpoint): void {
    const first = this.#tail.then(() => this.#attempt(event, endpoint, 0));
    // The tail never rejects, so one broken delivery cannot stall the ones queued behind it.
    this.#tail = first.catch(() => false);
    const delivery = first
      .then(
        (ok) => (ok ? undefined : this.#retry(event, endpoint)),
        () => undefined,
      )
      .finally(() => this.#inFlight.delete(delivery));
    this.#inFlight.add(delivery);
  }

  /** Resolves once every queued delivery has succeeded or been given up on. */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Abandons pending retries so close() does not wait out backoff timers. */
  close(): void {
    this.#closing.abort();
  }

  async #retry(event: StripeEvent, endpoint: WebhookEndpoint): Promise<void> {
    for (let retry = 1; retry <= MAX_RETRIES; retry++) {
      try {
        await sleep(RETRY_BASE_MS * retry, undefined, { signal: this.#closing.signal });
      } catch {
        return; // closing
      }
      if (await this.#attempt(event, endpoint, retry)) return;
    }
    this.logger.warn(
      { event_id: event.id, type: event.type, url: endpoint.url },
      "webhook delivery given up",
    );
  }

  async #attempt(event: StripeEvent, endpoint: WebhookEndpoint, retry: number): Promise<boolean> {
    if (this.#closing.signal.aborted) return true;
    const payload = JSON.stringify(event, null, 2);
    const log = { event_id: event.id, type: event.type, url: endpoint.url, retry };
    try {
      // Signed per attempt, like Stripe, so each retry carries a fresh timestamp.
      const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: endpoint.secret });
      const res = await fetch(endpoint.url, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": signature },
        body: payload,
        signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
      });
      await res.arrayBuffer(); // drain so the connection can be reused
      if (res.ok) {
        this.logger.info({ ...log, status: res.status }, "webhook delivered");
        return true;
      }
      this.logger.warn({ ...log, status: res.status }, "webhook refused");
    } catch (err) {
      this.logger.warn({ ...log, err: String(err) }, "webhook delivery failed");
    }
    return false;
  }
}
