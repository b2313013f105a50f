import { afterEach, describe, expect, it } from "vitest";
import { QUEUE_NAMES } from "../src/config.js";
import { RECONCILIATION_SCHEDULER_ID } from "../src/queue/names.js";
import { adminCall, ledgerTransactionCount, waitForRun, wholeTest } from "./support/reconciliation.js";
import { ownRedis, type OwnRedis } from "./support/redis-server.js";
import { expectInvariants, openEventCount, seedPaidTopUps, deliverAll } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/** A run is Postgres state with a job beside it: losing the worker or Redis loses neither the run nor money. */
let sys: System | undefined;
let redis: OwnRedis | undefined;
afterEach(async () => {
  await sys?.stop();
  await redis?.stop();
  sys = undefined;
  redis = undefined;
});

async function fundedSystem(s: System, users: number): Promise<void> {
  const paid = await seedPaidTopUps(
    s,
    Array.from({ length: users }, (_, i) => ({ user: `rc-${i}`, amountMinor: 1_000 + i })),
  );
  await deliverAll(
    s,
    paid.flatMap((p) => p.events),
    5,
  );
  await eventually(async () => (await openEventCount(s)) === 0, { what: "top-ups applied" });
  // And their fees, which the workers book from the balance stream between runs.
  await eventually(
    async () =>
      Number(
        (
          await s.tdb
            .db("wallet_ledger_transactions")
            .where({ kind: "processing_fee" })
            .count({ n: "*" })
            .first()
        )?.n,
      ) === users,
    { what: "fees booked" },
  );
}

const runStatus = async (s: System, id: string) =>
  (await s.tdb.db("reconciliation_runs").where({ id }).first<{ status: string }>())?.status;

describe("reconciliation survives crashes", () => {
  it("a worker SIGKILLed in the middle of a run: the run completes on another worker, nothing booked twice", async () => {
    sys = await startSystem({ workers: 1 });
    await fundedSystem(sys, 5);
    const before = await ledgerTransactionCount(sys);
    // Stripe answers the first page slowly, so the kill lands while the run reads the stream.
    sys.standin.injectFault({ pathPrefix: "/v1/balance_transactions", kind: "delay", delayMs: 4_000 });
    const started = await adminCall(sys, "POST", "/admin/reconciliation/runs", wholeTest());
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    await eventually(async () => (await runStatus(sys!, id)) === "running", { what: "run started" });
    await sys.stopWorker(sys.workers[0]!, "SIGKILL");
    await sys.startWorker();

    const run = await waitForRun(sys, id);
    expect(run.status).toBe("matched");
    expect(run.stripe_matched).toBeGreaterThanOrEqual(5);
    expect(await ledgerTransactionCount(sys)).toBe(before);
    const lines = await sys.tdb.db("stripe_balance_transactions").count({ n: "*" }).first();
    expect(Number(lines?.n)).toBe(run.stripe_matched);
    await expectInvariants(sys);
  });

  it("Redis emptied while a run waits for a worker: the sweeper re-enqueues it and the scheduler is back", async () => {
    redis = await ownRedis();
    const noReconciliation = QUEUE_NAMES.filter((q) => q !== "reconciliation").join(",");
    sys = await startSystem({
      workers: 1,
      env: { REDIS_URL: redis.url },
    });
    await fundedSystem(sys, 3);
    await sys.stopWorker(sys.workers[0]!);
    await sys.startWorker({ WORKER_QUEUES: noReconciliation });
    const started = await adminCall(sys, "POST", "/admin/reconciliation/runs", wholeTest());
    const id = started.body.id as string;
    expect(await sys.queues.reconciliation.getJob(id)).toBeTruthy();

    await redis.stop();
    await redis.start(); // empty: the run's job and the daily scheduler are gone
    await eventually(
      async () => (await sys!.queues.reconciliation.getJob(id).catch(() => "down")) === undefined,
      {
        what: "Redis back, empty",
      },
    );
    expect(await runStatus(sys, id)).toBe("queued");

    await sys.startWorker(); // runs every queue
    const run = await waitForRun(sys, id);
    expect(run.status).toBe("matched");
    await eventually(
      async () =>
        (await sys!.queues.reconciliation.getJobScheduler(RECONCILIATION_SCHEDULER_ID)) !== undefined,
      {
        what: "scheduler registered again",
      },
    );
    await expectInvariants(sys);
  });
});
