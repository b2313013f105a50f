import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowDeps } from "../src/flows/deps.js";
import { handleCommand } from "../src/flows/handle-command.js";
import type { StripeEvent } from "../src/standin/index.js";
import { toCommand } from "../src/stripe/commands.js";
import { deliver, stripeId } from "./support/events.js";
import { processorDeps } from "./support/lifecycles.js";
import { openEventCount } from "./support/seed.js";
import {
  cofferRequests,
  confirmSetup,
  createPlan,
  customerOf,
  stripeSubscriptions,
  subscribe,
} from "./support/subscriptions.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { WEBHOOK_SECRET } from "./support/tokens.js";

/**
 * The subscription of a setup is made exactly once: whether `setup_intent.succeeded` arrives five
 * times at once, arrives as copies under other event ids worked concurrently, or is retried after
 * the connection dropped once Stripe had made the subscription and its idempotency key expired.
 */
let sys: System;
let deps: FlowDeps;
let plan: Stripe.Price;
beforeAll(async () => {
  sys = await startSystem({ workers: 2 });
  deps = processorDeps(sys);
  plan = await createPlan(sys, { trialDays: 7 });
}, 60_000);
afterAll(async () => sys?.stop());

/** Subscribes and saves the card with webhooks off; returns the card-saved event, undelivered. */
async function savedCard(user: string): Promise<StripeEvent> {
  const res = await subscribe(sys, user, plan.id);
  expect(res.status).toBe(201);
  sys.standin.setWebhook(undefined);
  const start = sys.standin.eventCount();
  await confirmSetup(sys, res.body.setup_intent_id);
  const event = sys.standin.events(start).find((e) => e.type === "setup_intent.succeeded")!;
  sys.standin.setWebhook(`${sys.url}/webhooks/stripe`, WEBHOOK_SECRET);
  return event;
}

/** Subscription creates Coffer sent that Stripe executed (not replays of a stored answer). */
const creates = () =>
  cofferRequests(sys).filter((r) => r.method === "POST" && r.path === "/v1/subscriptions" && !r.replayed)
    .length;

describe("one subscription per setup", () => {
  it("setup_intent.succeeded delivered 5 times at once, and 5 copies under other ids worked at once", async () => {
    const event = await savedCard("five");
    const customer = await customerOf(sys, "five");
    const deliveries = await Promise.all(
      Array.from({ length: 5 }, () => deliver(sys.url, JSON.stringify(event))),
    );
    expect(deliveries.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    // The same fact under new event ids (as a heal, or Stripe's resend, could bring it): not deduped by id.
    await Promise.all(
      Array.from({ length: 5 }, () => {
        const copy = { ...event, id: stripeId("evt") } as unknown as Stripe.Event;
        return handleCommand(deps, toCommand(copy), { eventId: copy.id, log: deps.log });
      }),
    );
    await eventually(async () => (await openEventCount(sys)) === 0, { what: "events applied" });
    const subs = await stripeSubscriptions(sys, customer);
    expect(subs).toHaveLength(1);
    const setups = await sys.tdb.db("subscription_setups").where({ user_id: "five" });
    expect(setups.map((s) => s.subscription_id)).toEqual([subs[0]!.id]);
    expect(
      await sys.tdb.db("user_subscriptions").where({ user_id: "five" }).count({ n: "*" }).first(),
    ).toEqual({
      n: 1,
    });
  });

  it("a retry after the connection dropped once the subscription was made, its key expired, finds it", async () => {
    const event = await savedCard("dropped");
    const customer = await customerOf(sys, "dropped");
    // Twice: stripe-node retries a reset connection once on its own (with the same key).
    sys.standin.injectFault({
      method: "POST",
      pathPrefix: "/v1/subscriptions",
      kind: "drop_after",
      times: 2,
    });
    const ev = event as unknown as Stripe.Event;
    const ctx = { eventId: ev.id, log: deps.log };
    await expect(handleCommand(deps, toCommand(ev), ctx)).rejects.toThrow();
    const made = await stripeSubscriptions(sys, customer);
    expect(made).toHaveLength(1); // Stripe made it; Coffer never heard back
    expect(await sys.tdb.db("subscription_setups").where({ user_id: "dropped" }).first()).toMatchObject({
      subscription_id: null,
    });
    sys.standin.expireIdempotencyKeys(); // Stripe's 24 hours have passed

    const before = creates();
    expect(await handleCommand(deps, toCommand(ev), ctx)).toBe("subscription_found");
    expect(creates()).toBe(before);
    expect(await stripeSubscriptions(sys, customer)).toHaveLength(1);
    expect(await sys.tdb.db("subscription_setups").where({ user_id: "dropped" }).first()).toMatchObject({
      subscription_id: made[0]!.id,
    });
    // And Stripe's own delivery of the event, worked by a worker, changes nothing.
    expect((await deliver(sys.url, JSON.stringify(event))).status).toBe(200);
    await eventually(async () => (await openEventCount(sys)) === 0, { what: "event applied" });
    expect(await stripeSubscriptions(sys, customer)).toHaveLength(1);
  });
});
