import { DeliveryDrops } from "./drops.js";
import { buildEvent } from "./events.js";
import type { EventInput, StripeEvent } from "./events.js";
import { Faults } from "./faults.js";
import { Funds } from "./funds.js";
import { IdempotencyStore } from "./idempotency.js";
import { PLATFORM, Store } from "./state.js";
import { WebhookQueue } from "./webhooks.js";
import type { DeliveryLogger, WebhookEndpoint } from "./webhooks.js";

export interface StandinConfig {
  /** Stripe's processing fee: round(amount × feeBps / 10000) + feeFixedMinor. */
  feeBps: number;
  feeFixedMinor: number;
  /**
   * Currencies the account settles in, the first being its default; a charge in any other is
   * converted into the default (fx.ts). Undefined: every currency settles as itself.
   */
  settlementCurrencies: string[] | undefined;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  idempotencyKey?: string;
  status: number;
  /** Present when the response was a stored idempotent result. */
  replayed?: true;
  /** Present when a drop_after fault destroyed the socket instead of sending `status`. */
  dropped?: true;
}

// Used when a webhook URL is set without a secret; tests that verify signatures pass their own.
const DEFAULT_WEBHOOK_SECRET = "whsec_standin";

/** All mutable state of one stand-in instance; nothing is module-global, so instances are isolated. */
export class Runtime {
  readonly store = new Store();
  readonly faults = new Faults();
  readonly idempotency = new IdempotencyStore();
  readonly requestLog: RequestLogEntry[] = [];
  readonly funds = new Funds();
  readonly drops = new DeliveryDrops();
  readonly webhooks: WebhookQueue;
  #endpoint: WebhookEndpoint | undefined;

  constructor(
    readonly config: StandinConfig,
    readonly logger: DeliveryLogger,
  ) {
    this.webhooks = new WebhookQueue(logger);
  }

  setWebhook(url: string | undefined, secret?: string): void {
    this.#endpoint = url
      ? { url, secret: secret ?? this.#endpoint?.secret ?? DEFAULT_WEBHOOK_SECRET }
      : undefined;
  }

  /**
   * Records an event and queues its delivery to the endpoint configured right now; like Stripe,
   * an endpoint added later does not receive older events. A drop rule may swallow the delivery
   * (the event still exists, as one Stripe never managed to deliver).
   */
  emit(input: EventInput): StripeEvent {
    const endpoint = this.#endpoint;
    const event = buildEvent(input, endpoint ? 1 : 0);
    this.store.insert(input.account ?? PLATFORM, "event", event);
    if (endpoint && !this.drops.take(event)) this.webhooks.enqueue(event, endpoint);
    return event;
  }

  /**
   * Delivers an existing event again to the endpoint configured now, as Stripe does when it
   * retries late or someone resends it from the Dashboard. False when there is no endpoint.
   */
  redeliver(event: StripeEvent): boolean {
    if (!this.#endpoint) return false;
    this.webhooks.enqueue(event, this.#endpoint);
    return true;
  }
}
