import Stripe from "stripe";
import type { StripeEvent } from "../../src/standin/index.js";
import { sleep, stream } from "./random.js";
import type { StandinHandle } from "./standin-handle.js";

/**
 * Webhook delivery as Stripe does it, driven by the soak instead of the stand-in (whose own
 * queue gives up after a few seconds, shorter than a Postgres restart): every event the stand-in
 * creates is delivered at least once; a quarter of them twice, half of those two copies at the
 * same instant; each copy after a random delay, so arrival order is random; and every answer
 * that is not 2xx (or no answer) is retried with a jittered exponential backoff until one is.
 * Events of connected accounts are signed with the Connect endpoint's secret, as Stripe's
 * separate Connect endpoint does.
 *
 * Each event's plan comes from the stream `delivery:<n>`, n being its position in the
 * stand-in's creation order, so the plan of the n-th event is the same on every replay.
 */
export interface DeliveryOptions {
  webhookUrl: string;
  secret: string;
  connectSecret: string;
  seed: number;
  /** A copy waits up to this long before its first attempt: the spread that shuffles order. */
  maxDelayMs: number;
  duplicateShare: number;
  concurrentShareOfDuplicates: number;
}

export interface DeliveryStats {
  events: number;
  copies: number;
  duplicated: number;
  concurrent: number;
  attempts: number;
  acked: number;
  retries: number;
  refusedByStatus: Record<string, number>;
  networkErrors: number;
}

const ATTEMPT_TIMEOUT_MS = 15_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;

export class Deliverer {
  readonly stats: DeliveryStats = {
    events: 0,
    copies: 0,
    duplicated: 0,
    concurrent: 0,
    attempts: 0,
    acked: 0,
    retries: 0,
    refusedByStatus: {},
    networkErrors: 0,
  };
  /** Event ids with at least one 2xx, for the audit's "delivered at least once". */
  readonly ackedIds = new Set<string>();
  /** Every event the stand-in created, in its order: the audit's list of what must have arrived. */
  readonly seenEvents: StripeEvent[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #polling: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly standin: StandinHandle,
    private readonly o: DeliveryOptions,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.#poll(), 200);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Copies still to be acknowledged (including ones waiting for their first attempt). */
  get pending(): number {
    return this.#inFlight.size;
  }

  /** Polls once more, then resolves when every copy planned so far has been acknowledged. */
  async drain(): Promise<void> {
    await this.#poll();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** One look at a time, so events are planned exactly once and in the stand-in's order. */
  #poll(): Promise<void> {
    this.#polling ??= this.standin
      .events(this.seenEvents.length)
      .then((fresh) => {
        for (const event of fresh) {
          this.seenEvents.push(event);
          this.#plan(event, this.seenEvents.length - 1);
        }
      })
      .finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  #plan(event: StripeEvent, index: number): void {
    const r = stream(this.o.seed, `delivery:${index}`);
    this.stats.events += 1;
    const first = r.int(0, this.o.maxDelayMs);
    const delays = [first];
    if (r.chance(this.o.duplicateShare)) {
      this.stats.duplicated += 1;
      const concurrent = r.chance(this.o.concurrentShareOfDuplicates);
      if (concurrent) this.stats.concurrent += 1;
      delays.push(concurrent ? first : first + r.int(200, 8_000));
    }
    const payload = JSON.stringify(event);
    const secret = event.account === undefined ? this.o.secret : this.o.connectSecret;
    for (const delay of delays) {
      this.stats.copies += 1;
      const copy = this.#deliver(event.id, payload, secret, delay, () => r.next()).finally(() =>
        this.#inFlight.delete(copy),
      );
      this.#inFlight.add(copy);
    }
  }

  async #deliver(id: string, payload: string, secret: string, delayMs: number, jitter: () => number) {
    await sleep(delayMs);
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        this.stats.retries += 1;
        const base = Math.min(BACKOFF_FIRST_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);
        await sleep(base * (0.5 + jitter()));
      }
      this.stats.attempts += 1;
      try {
        const res = await fetch(this.o.webhookUrl, {
          method: "POST",
          headers: {
            "content-type": "application/json; charset=utf-8",
            // Signed per attempt, as Stripe does, so a retry carries a fresh timestamp.
            "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload, secret }),
          },
          body: payload,
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        await res.arrayBuffer();
        if (res.ok) {
          this.stats.acked += 1;
          this.ackedIds.add(id);
          return;
        }
        const key = String(res.status);
        this.stats.refusedByStatus[key] = (this.stats.refusedByStatus[key] ?? 0) + 1;
      } catch {
        this.stats.networkErrors += 1;
      }
    }
  }
}
