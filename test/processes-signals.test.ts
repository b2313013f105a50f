import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInvariants } from "../src/db/stores/ledger-checks.js";
import { startStandin, type Standin } from "../src/standin/index.js";
import { pay, topUp, wallet } from "./support/api.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { REDIS_URL } from "./support/pg-urls.js";
import {
  exitWithin,
  expectNoneLeft,
  freePort,
  killMarked,
  launch,
  portIsFree,
  tail,
  waitForOk,
  type Launched,
} from "./support/processes.js";
import { eventually } from "./support/system.js";
import { JWT_SECRET, WEBHOOK_SECRET } from "./support/tokens.js";

/**
 * SIGTERM to the `npm start` process itself, as a supervisor or a container runtime sends it,
 * while the worker has jobs in flight. The stand-in is this test's (Coffer runs with a Stripe
 * key against it), so Stripe outlives Coffer's restart as it would. Stripe is made slow for the
 * worker's first charge read (8 s), which every first usd credit waits on, so at the signal jobs
 * are provably mid-flight. Then: every process npm started is gone, the ports are free, the
 * drained jobs finished instead of being cut, and after a second `npm start` every payment is
 * credited exactly once.
 */
let tdb: TestDb;
let standin: Standin;
let env: Record<string, string>;
const launched: Launched[] = [];

beforeAll(async () => {
  tdb = await createTestDb();
  standin = await startStandin({ webhookSecret: WEBHOOK_SECRET });
  const port = await freePort();
  env = {
    NODE_ENV: "test",
    DATABASE_URL: tdb.url,
    DATABASE_OWNER_URL: tdb.ownerUrl,
    REDIS_URL,
    QUEUE_PREFIX: `test-${randomUUID()}`,
    PORT: String(port),
    WORKER_METRICS_PORT: String(await freePort()),
    STRIPE_SECRET_KEY: "sk_test_standin",
    STRIPE_API_BASE: standin.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    AUTH_JWT_SECRET: JWT_SECRET,
    RATE_LIMIT_PER_MINUTE: "0",
    WORKER_CONCURRENCY: "4",
    BALANCE_STREAM_INTERVAL_MS: "0",
    LOG_LEVEL: "info",
  };
  standin.setWebhook(`http://127.0.0.1:${port}/webhooks/stripe`, WEBHOOK_SECRET);
});

afterAll(async () => {
  for (const l of launched) killMarked(l.mark);
  await standin?.close();
  await tdb?.drop();
});

const base = () => `http://127.0.0.1:${env.PORT}`;

async function npmStart(): Promise<Launched> {
  const l = launch("npm", ["start"], env);
  launched.push(l);
  await waitForOk(`${base()}/readyz`).catch((err: Error) => {
    throw new Error(`${err.message}\n${tail(l.lines)}`);
  });
  await l.waitForLine(/"msg":"workers started"/);
  return l;
}

const statusCounts = async (): Promise<Record<string, number>> => {
  const rows: Array<{ status: string; n: string }> = await tdb
    .db("stripe_webhook_events")
    .where({ type: "payment_intent.succeeded" })
    .select("status")
    .count({ n: "*" })
    .groupBy("status");
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
};

describe("SIGTERM to npm start", () => {
  it("stops every process, frees the ports, and loses nothing", { timeout: 240_000 }, async () => {
    const first = await npmStart();

    const payments = Array.from({ length: 12 }, (_, i) => ({ user: `sig-${i % 4}`, amountMinor: 500 + i }));
    const pis: string[] = [];
    for (const p of payments) {
      const res = await topUp(base(), p.user, p.amountMinor);
      expect(res.status).toBe(201);
      pis.push(res.body.payment_intent_id as string);
    }
    standin.injectFault({ method: "GET", pathPrefix: "/v1/charges/", kind: "delay", delayMs: 8_000 });
    for (const pi of pis) expect((await pay(standin.url, pi)).status).toBe(200);
    await eventually(
      async () => {
        const c = await statusCounts();
        const received = Object.values(c).reduce((a, b) => a + b, 0);
        return received === pis.length && (c.processing ?? 0) > 0;
      },
      { timeoutMs: 30_000, what: "every payment received and some jobs mid-flight" },
    );

    process.kill(first.pid, "SIGTERM"); // the npm process only, as `docker stop` or systemd would
    const exit = await exitWithin(first, 60_000);
    expect(exit).toEqual({ code: 0, signal: null });
    // npm exits after its child, which exits after web and worker: nothing may be left by now.
    await expectNoneLeft(first.mark);
    expect(await portIsFree(Number(env.PORT))).toBe(true);
    expect(await portIsFree(Number(env.WORKER_METRICS_PORT))).toBe(true);
    expect(first.lines).toContain(
      "[start] SIGTERM: stopping web and worker (they finish what they are doing)",
    );
    // Drained, not cut: the jobs in flight at the signal finished; the rest wait in Redis.
    const afterStop = await statusCounts();
    expect(afterStop.processing ?? 0).toBe(0);
    expect(afterStop.processed ?? 0).toBeGreaterThan(0);

    // A second start binds the same ports and finishes the work, each payment credited once.
    const second = await npmStart();
    await eventually(async () => (await statusCounts()).processed === pis.length, {
      timeoutMs: 60_000,
      what: "every payment processed after the restart",
    });
    const expected = new Map<string, number>();
    for (const p of payments) expected.set(p.user, (expected.get(p.user) ?? 0) + p.amountMinor);
    for (const [user, total] of expected) expect((await wallet(base(), user)).available).toBe(total);
    const credits = await tdb
      .db("wallet_ledger_transactions")
      .whereIn(
        "idempotency_key",
        pis.map((pi) => `${pi}:captured`),
      )
      .count({ n: "*" })
      .first();
    expect(Number(credits?.n)).toBe(pis.length);
    const report = await checkInvariants(tdb.db);
    expect(report.violations).toEqual([]);

    process.kill(second.pid, "SIGTERM");
    expect(await exitWithin(second, 60_000)).toEqual({ code: 0, signal: null });
    await expectNoneLeft(second.mark);
  });
});
