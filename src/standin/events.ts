import { newId, nowSeconds } from "./ids.js";

/** Any fixed version string: Coffer reads `api_version` only to store it. */
export const API_VERSION = "2025-01-27.acacia";

/**
 * A v1 Event as Stripe sends it. `data.object` is a JSON snapshot taken when the event is created,
 * so later changes to the object never leak into events already sent.
 */
export interface StripeEvent {
  id: string;
  object: "event";
  api_version: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
  /** Set for events that happen on a connected account (Connect). */
  account?: string;
}

export interface EventInput {
  type: string;
  object: object;
  previousAttributes?: Record<string, unknown>;
  /** Connected account the event happened on; omitted for the platform. */
  account?: string;
  request?: { id: string | null; idempotency_key: string | null };
}

function snapshot(value: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

export function buildEvent(input: EventInput, pendingWebhooks: number): StripeEvent {
  const event: StripeEvent = {
    id: newId("evt"),
    object: "event",
    api_version: API_VERSION,
    created: nowSeconds(),
    data: { object: snapshot(input.object) },
    livemode: false,
    pending_webhooks: pendingWebhooks,
    request: input.request ?? { id: null, idempotency_key: null },
    type: input.type,
  };
  if (input.previousAttributes) event.data.previous_attributes = snapshot(input.previousAttributes);
  if (input.account !== undefined) event.account = input.account;
  return event;
}

/** Stripe's event type patterns: exact, or ending in `*` (`payment_intent.*`). */
export function matchesEventType(patterns: readonly string[], type: string): boolean {
  return patterns.some((pat) => (pat.endsWith("*") ? type.startsWith(pat.slice(0, -1)) : type === pat));
}
