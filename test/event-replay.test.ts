import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, pay, topUp, wallet } from "./support/api.js";
import { deliver } from "./support/events.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * An event whose transient failures outlast its retries ends `failed`. After
 * the cause is fixed an admin replays it: it is applied once, audited, and a
 * replay of an event already applied is refused.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1, env: { JOB_ATTEMPTS: "2", JOB_BACKOFF_MS: "50" } });
  sys.standin.setWebhook(undefined);
});
afterAll(async () => sys?.stop());

describe("replaying a failed event", () => {
  it("applies it once the cause is gone, and audits who did it", async () => {
    const created = await topUp(sys.url, "replay-1", 2_000);
    const piId = created.body.payment_intent_id as string;
    await pay(sys.standin.url, piId);
    const charge = sys.standin
      .events()
      .find(
        (e) =>
          e.type === "charge.succeeded" &&
          (e.data.object as { payment_intent: string }).payment_intent === piId,
      )!;
    // A charge without its PaymentIntent's metadata makes Coffer ask Stripe for the PaymentIntent,
    // and Stripe answers 500 for longer than the job's retries last.
    const ev = { ...charge, data: { object: { ...charge.data.object, metadata: {} } } };
    sys.standin.injectFault({ method: "GET", pathPrefix: "/v1/payment_intents/", kind: "500", times: 1_000 });
    await deliver(sys.url, ev as never);
    await eventually(async () => (await openEventCount(sys)) === 0, { what: "retries spent" });
    const failed = await api(sys.url, "GET", "/admin/events?status=failed", { user: "ops", role: "admin" });
    expect(failed.body.data).toEqual([expect.objectContaining({ id: ev.id, status: "failed", attempts: 2 })]);
    expect(await wallet(sys.url, "replay-1")).toEqual({ available: 0, pending: 0, held: 0 });

    sys.standin.clearFaults();
    expect(
      (await api(sys.url, "POST", `/admin/events/${ev.id}/replay`, { user: "replay-1", body: {} })).status,
    ).toBe(403);
    const replay = await api(sys.url, "POST", `/admin/events/${ev.id}/replay`, {
      user: "ops",
      role: "admin",
      body: { reason: "Stripe outage over" },
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ id: ev.id, status: "enqueued", attempts: 0 });
    await eventually(async () => (await wallet(sys.url, "replay-1")).available === 2_000, {
      what: "credit after replay",
    });
    await eventually(
      async () =>
        (await sys.tdb.db("stripe_webhook_events").where({ id: ev.id }).first()).status === "processed",
    );

    const again = await api(sys.url, "POST", `/admin/events/${ev.id}/replay`, {
      user: "ops",
      role: "admin",
      body: {},
    });
    expect([again.status, again.body.error.code]).toEqual([409, "event_not_replayable"]);
    expect(
      (await api(sys.url, "POST", "/admin/events/evt_nope/replay", { user: "ops", role: "admin", body: {} }))
        .status,
    ).toBe(404);
    const audit = await sys.tdb.db("admin_audit_log").where({ action: "event.replay" });
    expect(audit).toEqual([
      expect.objectContaining({
        actor: "ops",
        target: ev.id,
        reason: "Stripe outage over",
        before: expect.objectContaining({ status: "failed" }),
      }),
    ]);
    await expectInvariants(sys);
  });
});
