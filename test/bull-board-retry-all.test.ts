import { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerConnection } from "../src/queue/redis.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { REDIS_URL } from "./support/pg-urls.js";
import { tokenFor } from "./support/tokens.js";

/**
 * Bull Board's "Retry all" over more failed jobs than one read takes, when more than a read's
 * worth stay failed (their events are processed, so they are skipped and stay in the list):
 * the jobs behind them are still reached. No browser: the board's own API call, as it sends it.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
});
afterAll(async () => sys?.stop());

const STAYING = 130; // processed events' jobs: skipped, they stay failed
const REPLAYED = 30; // failed events' jobs: re-opened by the replay, they leave the list
const OTHER = 5; // jobs that name no event: the board's own retry, they leave the list

const ids = (kind: string, n: number) =>
  Array.from({ length: n }, (_, i) => `evt_retryall_${kind}_${String(i).padStart(3, "0")}`);

/** Events as the webhook route stores them, in the given status. */
async function storeEvents(eventIds: string[], status: "processed" | "failed") {
  await sys.tdb.db("stripe_webhook_events").insert(
    eventIds.map((id) => ({
      id,
      type: "charge.succeeded",
      livemode: false,
      stripe_created: 1_700_000_000,
      payload: JSON.stringify({ id, type: "charge.succeeded" }),
      status,
      attempts: 1,
      last_error: status === "failed" ? "test" : null,
    })),
  );
}

/** Adds the jobs and lets a worker whose every job throws fail them, once each. */
async function failJobs(jobs: Array<{ id: string; data: Record<string, unknown> }>) {
  const queue = sys.queues.payments;
  const before = await queue.getJobCountByTypes("failed");
  await queue.addBulk(
    jobs.map((j) => ({
      name: "charge.succeeded",
      data: j.data as never,
      opts: { jobId: j.id, attempts: 1 },
    })),
  );
  const connection = workerConnection(REDIS_URL);
  const worker = new Worker(
    queue.name,
    () => {
      throw new Error("made to fail");
    },
    { connection, prefix: sys.config.QUEUE_PREFIX, concurrency: 20 },
  );
  await eventually(async () => (await queue.getJobCountByTypes("failed")) === before + jobs.length, {
    what: "jobs failed",
  });
  await worker.close();
  connection.disconnect();
}

describe("Bull Board's Retry all", () => {
  it("reaches the failed jobs behind more than a page of jobs that stay failed", async () => {
    const staying = ids("processed", STAYING);
    const replayed = ids("failed", REPLAYED);
    await storeEvents(staying, "processed");
    await storeEvents(replayed, "failed");
    // The list reads newest first: the ones that must be reached fail first, so they sit
    // behind all 130 that stay (indexes 130 to 164).
    await failJobs(Array.from({ length: OTHER }, (_, i) => ({ id: `plain-${i}`, data: { note: i } })));
    await new Promise((r) => setTimeout(r, 20));
    await failJobs(replayed.map((id) => ({ id, data: { eventId: id } })));
    await new Promise((r) => setTimeout(r, 20));
    await failJobs(staying.map((id) => ({ id, data: { eventId: id } })));
    const head = await sys.queues.payments.getJobs(["failed"], 0, 99);
    expect(head.every((j) => staying.includes(`${j.id}`))).toBe(true);

    const res = await fetch(`${sys.url}/admin/queues/api/queues/payments/retry/failed`, {
      method: "PUT",
      headers: { authorization: `Bearer ${tokenFor("ops", { role: "admin" })}`, origin: sys.url },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ retried: REPLAYED + OTHER, skipped: STAYING });

    const failed = await sys.queues.payments.getJobs(["failed"], 0, -1);
    expect(failed.map((j) => `${j.id}`).sort()).toEqual([...staying].sort());
    const reopened = await sys.tdb.db("stripe_webhook_events").whereIn("id", replayed).pluck("status");
    expect(reopened).toEqual(Array(REPLAYED).fill("enqueued"));
    const audits = await sys.tdb.db("admin_audit_log").where({ action: "event.replay" }).pluck("target");
    expect(audits.sort()).toEqual([...replayed].sort());
  }, 60_000);
});
