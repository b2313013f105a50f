import { OFFLINE_WEBHOOK_SECRET } from "../offline.js";
import { DeliveryDrops } from "./drops.js";
import { buildEvent } from "./events.js";
import type { EventInput, StripeEvent } from "./events.js";
import { Faults } from "./faults.js";
import { Funds } from "./funds.js";
import { IdempotencyStore } from "./idempotency.js";
import { DEFAULT_RATE_LIMITS, RateLimits } from "./rate-limits.js";
import type { RateLimitMode, RateLimitedReason } from "./rate-limits.js";
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
  /**
   * How long a charge's funds stay pending: its balance transaction's available_on is created +
   * this. Undefined: two days (CARD_AVAILABLE_AFTER_S), like Stripe's usual schedule.
   */
  availableAfterS?: number | undefined;
}

export interface RuntimeOptions {
  rateLimits: RateLimitMode;
  /** Signs events that carry `account`, as Stripe's separate Connect endpoint has its own secret. */
  connectWebhookSecret: string | undefined;
}

/**
 * One API call as the stand-in received it (control calls are not API calls and are not logged).
 * Benchmarks count Coffer's reads from it: `key` tells Coffer's calls from the harness's.
 */
export interface RequestLogEntry {
  method: string;
  path: string;
  /** The API key it was made with; "" when it had none. */
  key: string;
  /** The `Stripe-Account` header, when it acted on a connected account. */
  account?: string;
  idempotencyKey?: string;
  status: number;
  /** When it was taken (its body read), in ms since the epoch: the time rate limits count. */
  at: number;
  /** Present when a rate limit refused it (429), with the reason Stripe's header gives. */
  rateLimited?: RateLimitedReason;
  /** Present when the response was a stored idempotent result. */
  replayed?: true;
  /** Present when a drop_after fault destroyed the socket instead of sending `status`. */
  dropped?: true;
}

// Used when a webhook URL is set without a secret: Coffer's own offline default, so the two agree
// with no configuration. Tests that verify signatures pass their own.
const DEFAULT_WEBHOOK_SECRET = OFFLINE_WEBHOOK_SECRET;

/** All mutable state of one stand-in instance; nothing is module-global, so instances are isolated. */
export class Runtime {
  readonly store = new Store();
  readonly faults = new Faults();
  readonly idempotency = new IdempotencyStore();
  readonly requestLog: RequestLogEntry[] = [];
  readonly funds = new Funds();
  readonly drops = new DeliveryDrops();
  readonly webhooks: WebhookQueue;
  readonly rateLimits: RateLimits;
  #endpoint: WebhookEndpoint | undefined;
  #connectSecret: string | undefined;

  constructor(
    readonly config: StandinConfig,
    readonly logger: DeliveryLogger,
    options: Partial<RuntimeOptions> = {},
  ) {
    this.webhooks = new WebhookQueue(logger);
    this.rateLimits = new RateLimits(options.rateLimits ?? DEFAULT_RATE_LIMITS);
    this.#connectSecret = options.connectWebhookSecret;
  }

  /**
   * Where events go. A secret or Connect secret left out keeps the one set before, so a test can
   * switch deliveries off and on again without repeating them.
   */
  setWebhook(url: string | undefined, secret?: string, connectSecret?: string): void {
    this.#connectSecret = connectSecret ?? this.#connectSecret;
    this.#endpoint = url
      ? { url, secret: secret ?? this.#endpoint?.secret ?? DEFAULT_WEBHOOK_SECRET }
      : undefined;
  }

  /**
   * The endpoint an event goes to. Stripe sends events of connected accounts (those with
   * `account`) only to a Connect endpoint, which has its own signing secret; the stand-in posts
   * both kinds to one URL and signs each with its endpoint's secret. Without a Connect secret it
   * signs them with the platform's, standing in for a platform whose Connect endpoint shares the
   * URL and whose tests do not care which secret signed what.
   */
  #endpointFor(event: StripeEvent): WebhookEndpoint | undefined {
    const endpoint = this.#endpoint;
    if (!endpoint || event.account === undefined || this.#connectSecret === undefined) return endpoint;
    return { url: endpoint.url, secret: this.#connectSecret };
  }

  /**
   * Records an event and queues its delivery to the endpoint configured right now; like Stripe,
   * an endpoint added later does not receive older events. A drop rule may swallow the delivery
   * (the event still exists, as one Stripe never managed to deliver).
   */
  emit(input: EventInput): StripeEvent {
    const event = buildEvent(input, this.#endpoint ? 1 : 0);
    this.store.insert(input.account ?? PLATFORM, "event", event);
    const endpoint = this.#endpointFor(event);
    if (endpoint && !this.drops.take(event)) this.webhooks.enqueue(event, endpoint);
    return event;
  }

  /**
   * Delivers an existing event again to the endpoint configured now, as Stripe does when it
   * retries late or someone resends it from the Dashboard. False when there is no endpoint.
   */
  redeliver(event: StripeEvent): boolean {
    const endpoint = this.#endpointFor(event);
    if (!endpoint) return false;
    this.webhooks.enqueue(event, endpoint);
    return true;
  }
}
