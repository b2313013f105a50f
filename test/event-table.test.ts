import { readFileSync } from "node:fs";
import { join } from "node:path";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toCommand } from "../src/stripe/commands.js";
import { EVENT_TABLE, IGNORED_EVENT_TYPES } from "../src/stripe/event-table.js";
import { queueForEvent } from "../src/stripe/routing.js";
import { api, topUp } from "./support/api.js";
import { deliver } from "./support/events.js";
import { openEventCount } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/** Every event type the installed SDK declares, read from its own type declarations. */
function sdkEventTypes(): string[] {
  const dts = readFileSync(join(process.cwd(), "node_modules/stripe/esm/resources/Events.d.ts"), "utf8");
  const union = /type Type = ([^;]+);/.exec(dts)![1]!;
  return [...union.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

const event = (type: string, object: object = { object: "unknown" }) =>
  ({ id: "evt_x", type, created: 1, data: { object } }) as unknown as Stripe.Event;

/** What the worker makes of a type: a handler (even one that refuses a bad object), or none. */
function workerHandles(type: string): boolean {
  try {
    return toCommand(event(type)).kind !== "none";
  } catch {
    return true; // a routed type whose object is malformed: its handler refused it
  }
}

describe("one table for the web and the worker", () => {
  const types = sdkEventTypes();

  it("reads the SDK's event types", () => {
    expect(types.length).toBeGreaterThan(200);
    expect(types).toContain("charge.dispute.funds_withdrawn");
  });

  it("routes or deliberately ignores every type the SDK knows, and the web and worker agree on each", () => {
    const disagreements = [...types, "made_up.type", "charge.dispute.escalated"].filter(
      (t) => (queueForEvent(t) !== null) !== workerHandles(t),
    );
    expect(disagreements).toEqual([]);
    for (const t of Object.keys(EVENT_TABLE)) expect(types).toContain(t);
    for (const t of IGNORED_EVENT_TYPES) expect(types).toContain(t);
  });

  it("routes the PaymentIntent states that carry no money yet", () => {
    expect(queueForEvent("payment_intent.processing")).toBe("payments");
    expect(queueForEvent("payment_intent.requires_action")).toBe("payments");
  });
});

describe("through HTTP and a worker", () => {
  let sys: System;
  beforeAll(async () => {
    sys = await startSystem({ workers: 1 });
    sys.standin.setWebhook(undefined);
  });
  afterAll(async () => sys?.stop());

  it("stores payment_intent.processing for its queue and the worker applies it", async () => {
    const created = await topUp(sys.url, "processing-user", 1_500);
    const piId = created.body.payment_intent_id as string;
    const paying = sys.standin.eventCount();
    // An ACH debit is `processing` until the bank pays it.
    await fetch(`${sys.standin.url}/_standin/payment_intents/${piId}/pay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payment_method: "pm_usBankAccount_success" }),
    });
    const processing = sys.standin
      .events(paying)
      .find((e) => e.type === "payment_intent.processing" && e.data.object.id === piId)!;
    expect((await deliver(sys.url, processing as never)).status).toBe(200);
    await eventually(async () => (await openEventCount(sys)) === 0, { what: "event applied" });
    const row = await sys.tdb.db("stripe_webhook_events").where({ id: processing.id }).first();
    expect(row).toMatchObject({ status: "processed", type: "payment_intent.processing" });
    const shown = await api(sys.url, "GET", `/v1/wallet/top-ups/${created.body.id}`, {
      user: "processing-user",
    });
    expect(shown.body.status).toBe("processing");
  });
});
