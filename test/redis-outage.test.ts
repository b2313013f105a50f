import { afterAll, afterEach, describe, expect, it } from "vitest";
import { wallet } from "./support/api.js";
import { deliverAll, expectInvariants, openEventCount, seedPaidTopUps } from "./support/seed.js";
import { ownRedis, type OwnRedis } from "./support/redis-server.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * Postgres is the source of truth; Redis only carries jobs. Every event that
 * got a 2xx must be applied once Redis is back, none twice: the workers'
 * sweeper re-enqueues from Postgres whatever Redis lost or never received.
 */
let redis: OwnRedis | undefined;
let sys: System | undefined;
afterEach(async () => {
  await sys?.stop();
  await redis?.stop();
  sys = undefined;
});
afterAll(async () => redis?.stop());

async function expectAllCredited(
  s: System,
  paid: Array<{ user: string; amountMinor: number; piId: string }>,
) {
  await eventually(async () => (await openEventCount(s)) === 0, {
    timeoutMs: 60_000,
    what: "all events processed",
  });
  for (const p of paid) expect((await wallet(s.url, p.user)).available).toBe(p.amountMinor);
  const credits = await s.tdb
    .db("wallet_ledger_transactions")
    .where({ kind: "payment_captured" })
    .count({ n: "*" })
    .first();
  expect(Number(credits?.n)).toBe(paid.length);
  await expectInvariants(s);
}

describe("Redis outages", () => {
  it("Redis unreachable while webhooks arrive: every 2xx event is applied once Redis is back", async () => {
    redis = await ownRedis();
    sys = await startSystem({ workers: 1, env: { REDIS_URL: redis.url } });
    const paid = await seedPaidTopUps(
      sys,
      Array.from({ length: 20 }, (_, i) => ({ user: `ru-${i}`, amountMinor: 100 + i })),
    );

    await redis.stop();
    await deliverAll(
      sys,
      paid.flatMap((p) => p.events),
      10,
    ); // throws unless every delivery got 200
    const stored = await sys.tdb.db("stripe_webhook_events").select("status");
    expect(stored).toHaveLength(40);
    expect(stored.every((r) => r.status === "received")).toBe(true); // committed, not enqueued

    await redis.start(); // empty
    await expectAllCredited(sys, paid);
  });

  it("Redis restarted empty with jobs queued: the sweeper re-enqueues them and each applies once", async () => {
    redis = await ownRedis();
    sys = await startSystem({ workers: 0, env: { REDIS_URL: redis.url } });
    const paid = await seedPaidTopUps(
      sys,
      Array.from({ length: 20 }, (_, i) => ({ user: `re-${i}`, amountMinor: 200 + i })),
    );
    await deliverAll(
      sys,
      paid.flatMap((p) => p.events),
      10,
    );
    const waiting = await sys.queues.payments.getJobCounts("waiting");
    expect(waiting.waiting).toBe(40);

    await redis.stop();
    await redis.start(); // every queued job is gone
    const s = sys;
    const after = await eventually(() => s.queues.payments.getJobCounts("waiting"), {
      what: "producer reconnected",
    });
    expect(after.waiting).toBe(0);
    await sys.startWorker();
    await expectAllCredited(sys, paid);
    // Deliveries repeated after recovery still apply nothing twice.
    await deliverAll(
      sys,
      paid.flatMap((p) => p.events),
      10,
    );
    await expectAllCredited(sys, paid);
  });
});
