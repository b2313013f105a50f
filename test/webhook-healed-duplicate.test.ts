import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StripeEvent } from "../src/standin/index.js";
import { pay, topUp, wallet } from "./support/api.js";
import { deliver } from "./support/events.js";
import { metric } from "./support/hostile-system.js";
import { reconcile } from "./support/reconciliation.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * An event the reconciliation heal ingested from GET /v1/events, which Stripe then delivers by
 * webhook after all, is a plain duplicate: the envelope fields Stripe fills per copy
 * (`pending_webhooks`, `request`, `context`) may differ from the listed copy without an alert.
 * A copy whose `data` differs is still a different payload under a seen id, and is alerted.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1, env: { RECONCILIATION_HEAL_WAIT_MS: "30000" } });
}, 60_000);
afterAll(async () => sys?.stop());

const conflicting = () => metric(sys.url, "coffer_webhooks_conflicting_total");
const duplicates = () => metric(sys.url, "coffer_webhooks_duplicate_total");

describe("a healed event delivered later by Stripe", () => {
  it("is a duplicate when only per-delivery fields differ, and alerted when data.object does", async () => {
    // One payment delivered as usual, so Coffer's books have begun (an earlier line is the
    // opening balance's, not a heal's).
    const first = await topUp(sys.url, "healed-dup", 1_000, "usd", "healed-dup-first");
    await pay(sys.standin.url, first.body.payment_intent_id as string);
    await eventually(async () => (await wallet(sys.url, "healed-dup")).available === 1_000, {
      what: "the first top-up credited",
    });

    sys.standin.setWebhook(undefined); // every event of this payment is lost
    const start = sys.standin.eventCount();
    const topped = await topUp(sys.url, "healed-dup", 2_500, "usd", "healed-dup-lost");
    const piId = topped.body.payment_intent_id as string;
    await pay(sys.standin.url, piId);
    const succeeded = (sys.standin.events(start) as StripeEvent[]).find(
      (e) => e.type === "payment_intent.succeeded" && (e.data.object as { id?: string }).id === piId,
    )!;

    const run = await reconcile(sys);
    expect(run.healed_events.map((h: { event_id: string }) => h.event_id)).toContain(succeeded.id);
    expect((await wallet(sys.url, "healed-dup")).available).toBe(3_500);
    const stored = await sys.tdb.db("stripe_webhook_events").where({ id: succeeded.id }).first();
    expect(stored.received_via).toBe("reconciliation");

    const [conflictsBefore, duplicatesBefore] = [await conflicting(), await duplicates()];
    const delivered = {
      ...succeeded,
      pending_webhooks: 3,
      request: { id: "req_delivery_copy", idempotency_key: "delivery-copy" },
      context: "acct_context_of_this_copy",
    };
    const res = await deliver(sys.url, JSON.stringify(delivered));
    expect([res.status, await res.json()]).toEqual([200, { received: true, duplicate: true }]);
    expect(await conflicting()).toBe(conflictsBefore);
    expect(await duplicates()).toBe(duplicatesBefore + 1);

    const object = succeeded.data.object as Record<string, unknown>;
    const forged = { ...delivered, data: { object: { ...object, amount_received: 999_999 } } };
    const refused = await deliver(sys.url, JSON.stringify(forged));
    expect([refused.status, await refused.json()]).toEqual([200, { received: true, duplicate: true }]);
    expect(await conflicting()).toBe(conflictsBefore + 1);
    expect(await sys.tdb.db("stripe_webhook_events").where({ id: succeeded.id }).first()).toEqual(stored);
    expect((await wallet(sys.url, "healed-dup")).available).toBe(3_500);
  });
});
