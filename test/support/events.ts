import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import Stripe from "stripe";
import type { Db } from "../../src/db/knex.js";
import { insertEvent } from "../../src/db/stores/events.js";
import { WEBHOOK_SECRET } from "./tokens.js";

/**
 * Webhook payloads built from Stripe's own sample objects (test/fixtures/stripe,
 * copied from the stripe/openapi fixtures) with the fields a test cares about
 * overridden, wrapped in Stripe's Event envelope and signed with the SDK's
 * test-header helper, exactly as Stripe would sign them.
 */
const FIXTURES = new URL("../fixtures/stripe/resources/", import.meta.url);

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), "utf8")) as Record<string, unknown>;
}

export const stripeId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

export function paymentIntentObject(over: Record<string, unknown>): Record<string, unknown> {
  return {
    ...fixture("payment_intent"),
    last_payment_error: null,
    next_action: null,
    transfer_data: null,
    ...over,
  };
}

export function chargeObject(over: Record<string, unknown>): Record<string, unknown> {
  return { ...fixture("charge"), ...over };
}

export function eventEnvelope(
  type: string,
  object: Record<string, unknown>,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: stripeId("evt"),
    object: "event",
    api_version: "2025-01-27.acacia",
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: stripeId("req"), idempotency_key: null },
    type,
    ...over,
  };
}

export function sign(payload: string, opts: { secret?: string; timestamp?: number } = {}): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: opts.secret ?? WEBHOOK_SECRET,
    ...(opts.timestamp !== undefined && { timestamp: opts.timestamp }),
  });
}

/** POSTs a signed event to the web process. */
export async function deliver(
  baseUrl: string,
  event: Record<string, unknown> | string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const payload = typeof event === "string" ? event : JSON.stringify(event);
  return fetch(`${baseUrl}/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": sign(payload), ...headers },
    body: payload,
  });
}

/**
 * Stores an event's row as a delivery would (`enqueued`, received by webhook) without adding its
 * job: an event whose job was lost, or one a test claims itself.
 */
export async function storeEnqueued(
  db: Db,
  event: { id: string; type: string; created: number; api_version?: string | null },
): Promise<void> {
  await insertEvent(db, {
    id: event.id,
    type: event.type,
    livemode: false,
    apiVersion: event.api_version ?? null,
    account: null,
    created: event.created,
    rawPayload: JSON.stringify(event),
    status: "enqueued",
    receivedVia: "webhook",
  });
}
