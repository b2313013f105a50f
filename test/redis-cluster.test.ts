import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { wallet } from "./support/api.js";
import { deliver } from "./support/events.js";
import { ownCluster, type OwnCluster } from "./support/redis-cluster.js";
import { expectInvariants, openEventCount, seedPaidTopUps, type PaidTopUp } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { send, spawnWeb, type WebProc } from "./support/web-process.js";

/**
 * Coffer on a Redis Cluster (three masters, one replica each), web and workers alike, and the
 * master serving Coffer's hash slot SIGKILLed while webhooks arrive. Its replica takes over
 * (replication is asynchronous, so jobs it had not yet copied are lost, as in production), and
 * the killed node, restarted on its port and directory, rejoins as a replica. Postgres is the
 * source of truth: every event that got a 2xx must be applied exactly once afterwards.
 *
 * Failover rather than a restart of a lone master: it is what a cluster is for, and it is the
 * case only a cluster-aware client survives (the slot moves to another port; the client must
 * follow CLUSTER SLOTS and MOVED instead of reconnecting to the dead address).
 */
let cluster: OwnCluster | undefined;
let sys: System | undefined;
let web: WebProc | undefined;
const prefix = `{test-${randomUUID()}}`;

beforeAll(async () => {
  cluster = await ownCluster(3);
  sys = await startSystem({
    workers: 2,
    env: {
      REDIS_CLUSTER_NODES: cluster.nodes,
      // Nothing listens here: a Redis use that ignored the cluster would fail the test.
      REDIS_URL: "redis://127.0.0.1:1",
      QUEUE_PREFIX: prefix,
      // The shared limits count in the cluster too (high enough never to refuse here).
      RATE_LIMIT_PER_MINUTE: "100000",
      WEBHOOK_REFUSALS_PER_MINUTE: "100000",
    },
  });
  // The real web entry point (src/web.ts) takes the deliveries.
  web = await spawnWeb(sys.env);
}, 90_000);

afterAll(async () => {
  await web?.stop();
  await sys?.stop();
  await cluster?.stop();
});

describe("Redis Cluster configuration", () => {
  const base = { NODE_ENV: "test" };
  it("REDIS_CLUSTER_NODES gives the seed nodes, and the queue prefix defaults to a hash tag", () => {
    const c = loadConfig({
      ...base,
      REDIS_CLUSTER_NODES: "rediss://10.0.0.1:7000, rediss://u:p%40ss@10.0.0.2:7001",
    });
    expect(c.QUEUE_PREFIX).toBe("{coffer}");
    expect(c.REDIS_CLUSTER_NODES).toEqual({
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
      ],
      username: "u",
      password: "p@ss",
      tls: true,
    });
    expect(loadConfig(base).REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: "10.0.0.1:7000", QUEUE_PREFIX: "coffer" }, /QUEUE_PREFIX: must be a hash tag/],
    [{ REDIS_CLUSTER_NODES: "10.0.0.1" }, /REDIS_CLUSTER_NODES: must list host:port/],
    [{ REDIS_CLUSTER_NODES: "rediss://a:1,rediss://u:p@b:2,rediss://u:q@c:3" }, /must agree/],
    [{ QUEUE_PREFIX: "{coffer" }, /QUEUE_PREFIX/],
  ])("refuses %j", (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });
});

describe("Redis Cluster", () => {
  it("a master SIGKILLed mid-run: every acknowledged event is applied once", async () => {
    const s = sys!;
    const c = cluster!;
    // Ready once the cluster client has the slot map (it connects after the web listens).
    const ready = await eventually(
      async () => {
        const r = await send(web!.url, "GET", "/readyz");
        return r.status === 200 && r.body;
      },
      { what: "the web ready", timeoutMs: 10_000 },
    );
    expect(ready).toMatchObject({ checks: { postgres: true, redis: true } });

    const paid = await seedPaidTopUps(
      s,
      Array.from({ length: 60 }, (_, i) => ({ user: `rc-${i}`, amountMinor: 100 + i })),
    );
    const events = paid.flatMap((p) => p.events);
    expect(events).toHaveLength(120);
    const victim = await c.masterOf(`${prefix}:payments`);

    // Deliveries in flight throughout; the kill comes once a third are acknowledged.
    let next = 0;
    let acknowledged = 0;
    let afterKill = 0;
    let killed: Promise<void> | undefined;
    let openAtKill = -1;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < events.length) {
          const e = events[next++]!;
          const res = await deliver(web!.url, e);
          expect(res.status, `delivery of ${String(e.id)}: ${await res.text()}`).toBe(200);
          acknowledged++;
          if (killed) afterKill++;
          if (acknowledged === 40 && !killed) {
            openAtKill = await openEventCount(s);
            killed = c.kill(victim);
          }
        }
      }),
    );
    await killed;
    expect(afterKill).toBeGreaterThan(40); // the kill was mid-run, not after it
    expect(openAtKill).toBeGreaterThan(0);

    // A replica took the slot over; the killed node comes back and rejoins.
    await c.healthy();
    expect(await c.masterOf(`${prefix}:payments`)).not.toBe(victim);
    await c.start(victim);
    await c.healthy();

    await expectCreditedOnce(s, paid);
    // Stripe redelivers after the recovery: still nothing twice.
    for (const e of events.slice(0, 30)) expect((await deliver(web!.url, e)).status).toBe(200);
    await expectCreditedOnce(s, paid);
    // The jobs went through the cluster, under the hash-tagged prefix.
    const done = await s.queues.payments.getJobCounts("completed");
    expect(done.completed).toBeGreaterThan(0);
  }, 90_000);
});

async function expectCreditedOnce(s: System, paid: PaidTopUp[]): Promise<void> {
  await eventually(async () => (await openEventCount(s)) === 0, {
    timeoutMs: 45_000,
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
