import type Stripe from "stripe";
import type { DropRule } from "./drops.js";
import type { StripeEvent } from "./events.js";
import type { FaultSpec } from "./faults.js";
import { parseSettlementCurrencies } from "./fx.js";
import {
  addStripeTransaction,
  redeliverEvent,
  rescheduleTransaction,
  setSettlementCurrencies,
} from "./resources/reconciliation-controls.js";
import type { StripeTransactionInput } from "./resources/reconciliation-controls.js";
import { DEFAULT_RATE_LIMITS } from "./rate-limits.js";
import type { RateLimitMode } from "./rate-limits.js";
import { Runtime } from "./runtime.js";
import type { RequestLogEntry } from "./runtime.js";
import { closeServer, createStandinServer, listen } from "./server.js";

export type { DropRule } from "./drops.js";
export type { StripeEvent } from "./events.js";
export type { FaultSpec } from "./faults.js";
export { DEFAULT_RATE_LIMITS, HARNESS_API_KEY, RATE_LIMIT_MODES, parseRateLimitMode } from "./rate-limits.js";
export type { RateLimitMode, RateLimitedReason } from "./rate-limits.js";
export type { StripeTransactionInput } from "./resources/reconciliation-controls.js";
export type { RequestLogEntry } from "./runtime.js";

/**
 * An in-memory HTTP stand-in for the parts of Stripe's API that Coffer calls. Point the real
 * `stripe` client at it: `new Stripe(key, { host, port, protocol: "http", maxNetworkRetries: 0 })`.
 */
export interface StandinOptions {
  /** 0 or undefined: a random free port. */
  port?: number;
  /** Interface to bind; default 127.0.0.1 (0.0.0.0 inside a container). */
  bindHost?: string;
  /** Where to POST events; may be set later with setWebhook(). */
  webhookUrl?: string;
  /** whsec_… used to sign deliveries. */
  webhookSecret?: string;
  /**
   * whsec_… of the Connect endpoint: signs events that happen on connected accounts (they carry
   * `account`), as Stripe's separate Connect endpoint has its own secret. Unset: those events are
   * signed with webhookSecret.
   */
  connectWebhookSecret?: string;
  /**
   * Stripe's rate limits: "test" (25 requests/s per account, 25/s per endpoint), "live" (100/s,
   * 25/s per endpoint) or "off"; default DEFAULT_RATE_LIMITS (rate-limits.ts). The harness key
   * (HARNESS_API_KEY) is never limited.
   */
  rateLimits?: RateLimitMode;
  /** Processing fee in basis points; default 290. */
  feeBps?: number;
  /** Fixed processing fee in minor units; default 30. */
  feeFixedMinor?: number;
  /**
   * Currencies the account settles in, its default first (`["usd"]`): a charge in any other gets
   * its balance transaction converted into the default at a fixed rate, with `exchange_rate`
   * set. Undefined (the default): every currency settles as itself.
   */
  settlementCurrencies?: string[];
  /** Seconds a charge's funds stay pending at Stripe (its `available_on`); default two days. */
  availableAfterS?: number;
  logger?: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
}

export interface Standin {
  /** e.g. http://127.0.0.1:43123 */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
  /** A secret left out keeps the one in force; see connectWebhookSecret. */
  setWebhook(url: string | undefined, secret?: string, connectSecret?: string): void;
  /** As the rateLimits option, from now on. */
  setRateLimits(mode: RateLimitMode): void;
  injectFault(f: FaultSpec): void;
  clearFaults(): void;
  /** API calls received (not control calls), oldest first, each with its key, status and time. */
  requests(): RequestLogEntry[];
  /** Every event created, oldest first. */
  events(sinceIndex?: number): StripeEvent[];
  /** How many events exist; with events(since), lets a test read only what it caused. */
  eventCount(): number;
  /** Resolves once every queued delivery has finished (success or given up). */
  flushWebhooks(): Promise<void>;
  /** Forgets every saved idempotency key, as if Stripe's 24-hour window had passed. */
  expireIdempotencyKeys(): void;
  /** Moves all pending balance transactions to available; returns how many moved. */
  settleBalance(): number;
  /** As the settlementCurrencies option, from now on; undefined: every currency settles as itself. */
  setSettlementCurrencies(currencies: string[] | undefined): void;
  /** As the availableAfterS option, for charges from now on; undefined: back to two days. */
  setAvailableAfter(seconds: number | undefined): void;
  /**
   * Moves a pending balance transaction's `available_on` (unix seconds), as a reserve or a payout
   * schedule change does at Stripe; throws for one already available. Also
   * `POST /_standin/balance_transactions/:id/available_on {"available_on"}`.
   */
  setAvailableOn(id: string, availableOn: number): Stripe.BalanceTransaction;
  /** Drops the webhook delivery of events that match from now on; undefined stops dropping. */
  dropWebhooks(rule: DropRule | undefined): void;
  /** Ids of the events whose delivery was dropped, oldest first. */
  droppedEvents(): string[];
  /** Delivers an event again to the endpoint set now; false when there is none. */
  redeliverEvent(id: string): boolean;
  /** A balance transaction Stripe made on its own (a fee, an adjustment): no source, available. */
  addBalanceTransaction(input: StripeTransactionInput): Stripe.BalanceTransaction;
}

const silent = { info: () => {}, warn: () => {} };

export async function startStandin(opts: StandinOptions = {}): Promise<Standin> {
  const rt = new Runtime(
    {
      feeBps: opts.feeBps ?? 290,
      feeFixedMinor: opts.feeFixedMinor ?? 30,
      settlementCurrencies:
        opts.settlementCurrencies &&
        parseSettlementCurrencies(opts.settlementCurrencies, "settlementCurrencies"),
      availableAfterS: opts.availableAfterS,
    },
    opts.logger ?? silent,
    { rateLimits: opts.rateLimits ?? DEFAULT_RATE_LIMITS, connectWebhookSecret: opts.connectWebhookSecret },
  );
  rt.setWebhook(opts.webhookUrl, opts.webhookSecret);
  const server = createStandinServer(rt);
  const bound = await listen(server, opts.port ?? 0, opts.bindHost);
  // Clients on this machine reach a wildcard bind through loopback.
  const host = bound.host === "0.0.0.0" ? "127.0.0.1" : bound.host;
  const port = bound.port;
  // Account links point back at this server's onboarding page.
  rt.store.publicUrl = `http://${host}:${port}`;
  return {
    url: `http://${host}:${port}`,
    host,
    port,
    async close() {
      rt.webhooks.close();
      await closeServer(server);
    },
    setWebhook: (url, secret, connectSecret) => rt.setWebhook(url, secret, connectSecret),
    setRateLimits: (mode) => void (rt.rateLimits.mode = mode),
    injectFault: (f) => rt.faults.inject(f),
    clearFaults: () => rt.faults.clear(),
    requests: () => rt.requestLog.map((r) => ({ ...r })),
    events: (sinceIndex = 0) => structuredClone(rt.store.all("event").slice(sinceIndex)),
    eventCount: () => rt.store.count("event"),
    flushWebhooks: () => rt.webhooks.flush(),
    expireIdempotencyKeys: () => rt.idempotency.expire(),
    settleBalance: () => rt.funds.settleAll(),
    setSettlementCurrencies: (currencies) => void setSettlementCurrencies(rt, currencies),
    setAvailableAfter: (seconds) => void (rt.config.availableAfterS = seconds),
    setAvailableOn: (id, availableOn) => structuredClone(rescheduleTransaction(rt, id, availableOn)),
    dropWebhooks: (rule) => rt.drops.set(rule),
    droppedEvents: () => rt.drops.dropped(),
    redeliverEvent: (id) => redeliverEvent(rt, id),
    addBalanceTransaction: (input) => structuredClone(addStripeTransaction(rt, input)),
  };
}
