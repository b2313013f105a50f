import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingReason } from "../src/flows/reconcile-heal.js";
import type { StripeEvent } from "../src/standin/index.js";
import { pay, topUp, wallet } from "./support/api.js";
import { deliver, storeEnqueued } from "./support/events.js";
import { reconcile } from "./support/reconciliation.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * A line whose posting is still missing after the heal is reported with where the event that
 * books it stands, so the person reading the discrepancy knows what to do: replay a failed event,
 * wait for one still on its way, or look in Stripe for one that never came.
 */
describe("missingReason", () => {
  const key = "pi_1:captured";
  const state = (status: string, last_error: string | null = null) => ({
    event_id: "evt_1",
    type: "payment_intent.succeeded",
    status,
    last_error,
  });
  it("names a failed event, its error, and the replay", () => {
    expect(missingReason(key, state("failed", "boom"), 30_000)).toBe(
      "no ledger posting pi_1:captured: its event evt_1 (payment_intent.succeeded) failed: boom; " +
        "fix the cause, then replay it (POST /admin/events/evt_1/replay)",
    );
  });
  it("names an event still open, the wait, and its last error", () => {
    expect(missingReason(key, state("enqueued", "rate limited by Stripe"), 30_000)).toBe(
      "no ledger posting pi_1:captured: its event evt_1 (payment_intent.succeeded) was still enqueued " +
        "after the run's 30 s wait (last error: rate limited by Stripe); the next run checks it again",
    );
  });
  it("says when Stripe lists no event that books it", () => {
    expect(missingReason(key, undefined, 30_000)).toBe(
      "no ledger posting pi_1:captured: Stripe's Events API lists no payment_intent.succeeded event for pi_1 " +
        "around the line's time; look it up in Stripe",
    );
  });
  it("says when the event was applied without booking it", () => {
    expect(missingReason(key, state("processed"), 30_000)).toMatch(/was processed without booking it/);
  });
  it("leaves the keys no event books to the line check's own reason", () => {
    expect(missingReason("wd_1:transferred", undefined, 30_000)).toBeNull();
  });
});

let sys: System;
beforeAll(async () => {
  // No sweeper within the test: a row whose job was lost stays as the loss left it.
  sys = await startSystem({
    workers: 1,
    env: { RECONCILIATION_HEAL_WAIT_MS: "1000", SWEEP_AFTER_MS: "600000" },
  });
  sys.standin.setWebhook(undefined);
  // Coffer's books begin with its first posting; lines before it belong to the opening balance.
  await paidTopUp("mr-first", "deliver");
  await eventually(async () => (await wallet(sys.url, "mr-first")).available === 1_000, {
    what: "the first credit",
  });
}, 60_000);
afterAll(async () => sys?.stop());

/** A paid top-up of 1,000; its payment_intent.succeeded, delivered or handed back. */
async function paidTopUp(user: string, how: "deliver" | "keep"): Promise<StripeEvent> {
  const since = sys.standin.eventCount();
  const created = await topUp(sys.url, user, 1_000, "usd", `${user}-1`);
  const pi = created.body.payment_intent_id as string;
  await pay(sys.standin.url, pi);
  const events = sys.standin.events(since);
  if (how === "deliver")
    for (const e of events) expect((await deliver(sys.url, JSON.stringify(e))).status).toBe(200);
  return events.find(
    (e) => e.type === "payment_intent.succeeded" && (e.data.object as { id: string }).id === pi,
  )!;
}

const reasonFor = (
  run: { discrepancies: { data: Array<{ ledger_key?: string; reason: string }> } },
  key: string,
) => run.discrepancies.data.find((d) => d.ledger_key === key)?.reason;

describe("a line still without its posting after the heal", () => {
  it("is reported with its event's failure, or with its event still waiting, by id", async () => {
    // Delivered with its metadata stripped: the worker refuses it (payment_owner_mismatch), for good.
    const refused = await paidTopUp("mr-failed", "keep");
    const stripped = { ...refused, data: { object: { ...refused.data.object, metadata: {} } } };
    expect((await deliver(sys.url, JSON.stringify(stripped))).status).toBe(200);
    await eventually(
      async () =>
        (await sys.tdb.db("stripe_webhook_events").where({ id: refused.id }).first())?.status === "failed",
      { what: "the refused event failed" },
    );
    // Stored, its job lost (Redis emptied before the add): open, and nothing runs it meanwhile.
    const lost = await paidTopUp("mr-lost", "keep");
    const object = lost.data.object as { id: string };
    await storeEnqueued(sys.tdb.db, lost);

    const run = await reconcile(sys);
    expect(run.status).toBe("mismatch");
    const refusedKey = `${(refused.data.object as { id: string }).id}:captured`;
    expect(reasonFor(run, refusedKey)).toMatch(
      new RegExp(
        `^no ledger posting ${refusedKey}: its event ${refused.id} \\(payment_intent.succeeded\\) failed: .*metadata.*; ` +
          `fix the cause, then replay it \\(POST /admin/events/${refused.id}/replay\\)$`,
      ),
    );
    expect(reasonFor(run, `${object.id}:captured`)).toBe(
      `no ledger posting ${object.id}:captured: its event ${lost.id} (payment_intent.succeeded) was still ` +
        `enqueued after the run's 1 s wait; the next run checks it again`,
    );
    // Nothing was posted for either, and the heal ingested neither (both were stored already).
    expect(await wallet(sys.url, "mr-failed")).toMatchObject({ available: 0 });
    expect(await wallet(sys.url, "mr-lost")).toMatchObject({ available: 0 });
    expect(run.healed_events).toEqual([]);
  });
});
