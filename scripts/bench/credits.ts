import type { Config } from "../../src/config.js";
import type { Db } from "../../src/db/knex.js";
import { checkInvariants } from "../../src/db/stores/ledger-checks.js";
import { ensureUser } from "../../src/db/stores/users.js";
import { createTopUp } from "../../src/flows/top-up.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import type { Currency } from "../../src/money/currencies.js";
import { HARNESS_API_KEY, type Standin, type StripeEvent } from "../../src/standin/index.js";
import { controlCall, standinStripe } from "../../src/standin/client.js";
import type { Child } from "./children.js";
import { cpuMark, cpuSplit, type CpuSplit } from "./machine-cpu.js";
import { pgMark, pgPerPosting, type PgWork } from "./pg-work.js";
import { postAll, send, type SignedRequest } from "./load.js";
import { signedRequest } from "./payloads.js";
import { summarize } from "./stats.js";
import http from "node:http";

/**
 * Credits from webhook to visible balance. Top-ups are made by Coffer's own top-up flow, run
 * here with the harness's Stripe key (never rate limited, never counted as Coffer's reads), and
 * paid at the stand-in; its `payment_intent.succeeded` events are then delivered under the clock.
 */
export interface Seeded {
  label: string;
  expectedByUser: Map<string, number>;
  events: StripeEvent[];
}

export async function seedCredits(o: {
  db: Db;
  config: Config;
  standin: Standin;
  label: string;
  events: number;
  wallets: number;
}): Promise<Seeded> {
  const users = Array.from({ length: o.wallets }, (_, w) => `bench_${o.label}_${w}`);
  for (const u of users) await ensureUser(o.db, u);
  const deps = {
    config: o.config,
    db: o.db,
    stripe: standinStripe(o.standin),
    metrics: createMetrics(),
    log: createLogger("silent"),
  };
  const expectedByUser = new Map(users.map((u) => [u, 0]));
  const since = o.standin.eventCount();
  await mapLimit(
    Array.from({ length: o.events }, (_, i) => i),
    8,
    async (i) => {
      const user = users[i % users.length]!;
      const amountMinor = 500 + ((i * 7_919) % 99_500); // deterministic: a rerun books the same totals
      const row = await createTopUp(deps, {
        userId: user,
        idempotencyKey: `${o.label}-${i}`,
        amountMinor,
        currency: "usd" as Currency,
      });
      const paid = await controlCall(o.standin.url, `/payment_intents/${row.payment_intent_id}/pay`, {});
      if (paid.status !== 200) throw new Error(`paying ${row.payment_intent_id}: ${paid.status}`);
      expectedByUser.set(user, expectedByUser.get(user)! + amountMinor);
    },
  );
  const events = o.standin.events(since).filter((e) => e.type === "payment_intent.succeeded");
  if (events.length !== o.events) throw new Error(`seeded ${o.events}, stand-in has ${events.length}`);
  return { label: o.label, expectedByUser, events };
}

export interface CreditRun {
  label: string;
  events: number;
  eventsPerS: number;
  /** From sending the webhook to a poll seeing the event processed (balance committed), ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  workerCpuMsPerEvent: number;
  /** The whole machine's CPU per event, split by process. */
  cpu: CpuSplit;
  /** Postgres's write transactions and WAL bytes per event. */
  pg: PgWork;
  stripeReadsPerEvent: number;
  exact: boolean;
  invariantsOk: boolean;
  failed: number;
  /** Jobs per committed group-commit transaction (the worker's coffer_group_commit_batch_jobs). */
  jobsPerBatch: number;
}

/** The workers' group-commit histograms so far: jobs in committed batches, and batches. */
async function batchMark(metricsUrls: string[] | undefined): Promise<{ jobs: number; batches: number }> {
  if (metricsUrls === undefined) return { jobs: NaN, batches: NaN };
  const total = { jobs: 0, batches: 0 };
  for (const url of metricsUrls) {
    const text = await (await fetch(url)).text();
    const value = (suffix: string) =>
      Number(new RegExp(`^coffer_group_commit_batch_jobs_${suffix} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    total.jobs += value("sum");
    total.batches += value("count");
  }
  return total;
}

/** Coffer's reads at Stripe so far: GETs in the stand-in's log, not the harness's own. */
const cofferReads = (s: Standin) =>
  s.requests().filter((r) => r.method === "GET" && r.key !== HARNESS_API_KEY).length;

/**
 * Delivers the seeded events and waits until each is applied. `rps` set: open loop, one event
 * every 1/rps s whatever the answers (latency under a fixed arrival rate); unset: closed loop
 * over `connections` sockets, as fast as the web answers (throughput).
 */
export async function deliverCredits(o: {
  db: Db;
  webUrl: string;
  secret: string;
  seeded: Seeded;
  standin: Standin;
  web: Child;
  workers: Child[];
  /** Each worker's /metrics, for their group commits' batch sizes (none: jobsPerBatch is NaN). */
  workerMetricsUrls?: string[];
  connections: number;
  rps?: number;
  timeoutS: number;
}): Promise<CreditRun> {
  const requests = o.seeded.events.map((e) => signedRequest(JSON.stringify(e), o.secret));
  const ids = o.seeded.events.map((e) => e.id);
  const pgBefore = await pgMark(o.db);
  const cpu = () => o.workers.reduce((s, w) => s + w.cpuMs(), 0);
  const cpuBefore = cpu();
  const mark = () => cpuMark({ web: o.web.cpuMs(), worker: cpu() });
  const markBefore = mark();
  const readsBefore = cofferReads(o.standin);
  const batchesBefore = await batchMark(o.workerMetricsUrls);
  const sentAt = new Map<string, number>();
  const seenAt = new Map<string, number>();
  const startedAt = performance.now();
  // Closed loop sends everything at once, so every poll looks up every event still open: at 5 ms
  // that alone cost Postgres about a third of its CPU per posting. Throughput needs no finer
  // grain than 50 ms over a run of seconds; the open loop's latency does, and keeps few open.
  const pollMs = o.rps === undefined ? 50 : 5;
  const watching = watch(o.db, ids, sentAt, seenAt, o.timeoutS * 1000, pollMs);
  const url = `${o.webUrl}/webhooks/stripe`;
  if (o.rps === undefined) {
    for (const id of ids) sentAt.set(id, startedAt);
    await postAll(url, o.connections, requests);
  } else {
    await openLoop(url, o.rps, requests, ids, sentAt);
  }
  const failed = await watching;
  const markAfter = mark();
  const pgAfter = await pgMark(o.db);
  const batchesAfter = await batchMark(o.workerMetricsUrls);
  const lastSeen = Math.max(...seenAt.values());
  const lat = summarize(ids.flatMap((id) => (seenAt.has(id) ? [seenAt.get(id)! - sentAt.get(id)!] : [])));
  const n = ids.length;
  return {
    label: o.seeded.label,
    events: n,
    eventsPerS: seenAt.size / ((lastSeen - startedAt) / 1000),
    ...lat,
    workerCpuMsPerEvent: (cpu() - cpuBefore) / n,
    cpu: cpuSplit(markBefore, markAfter, n),
    pg: pgPerPosting(pgBefore, pgAfter, n),
    stripeReadsPerEvent: (cofferReads(o.standin) - readsBefore) / n,
    exact: await exactBalances(o.db, o.seeded.expectedByUser),
    invariantsOk: (await checkInvariants(o.db)).ok,
    failed,
    jobsPerBatch: (batchesAfter.jobs - batchesBefore.jobs) / (batchesAfter.batches - batchesBefore.batches),
  };
}

/**
 * Polls every `pollMs` for the events sent and not yet seen: `processed` is written in the
 * posting's own transaction, so a poll that sees it sees the balance. `pollMs` is the resolution.
 */
async function watch(
  db: Db,
  ids: string[],
  sentAt: Map<string, number>,
  seenAt: Map<string, number>,
  timeoutMs: number,
  pollMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let failed = 0;
  while (seenAt.size + failed < ids.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, pollMs));
    const open = ids.filter((id) => sentAt.has(id) && !seenAt.has(id));
    if (open.length === 0) continue;
    const { rows } = await db.raw<{ rows: Array<{ id: string; status: string }> }>(
      `SELECT id, status FROM stripe_webhook_events WHERE id = ANY(?) AND status IN ('processed', 'failed')`,
      [open],
    );
    const now = performance.now();
    for (const r of rows) {
      seenAt.set(r.id, now);
      if (r.status === "failed") failed++;
    }
  }
  return failed + ids.length - seenAt.size;
}

/** A fixed arrival rate: request i leaves at start + i/rps, on its own socket if the others are busy. */
async function openLoop(
  url: string,
  rps: number,
  requests: SignedRequest[],
  ids: string[],
  sentAt: Map<string, number>,
): Promise<void> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const start = performance.now();
  const inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < requests.length; i++) {
    const due = start + (i * 1000) / rps;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(ids[i]!, performance.now());
    inFlight.push(send(agent, target, requests[i]!).catch(() => 0));
  }
  await Promise.all(inFlight);
  agent.destroy();
}

async function exactBalances(db: Db, expected: Map<string, number>): Promise<boolean> {
  const { rows } = await db.raw<{ rows: Array<{ user_id: string; available_minor: number }> }>(
    `SELECT user_id, available_minor FROM user_wallet_balances WHERE currency = 'usd' AND user_id = ANY(?)`,
    [[...expected.keys()]],
  );
  const got = new Map(rows.map((r) => [r.user_id, r.available_minor]));
  return [...expected].every(([u, want]) => got.get(u) === want);
}

export async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>) {
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, loop));
}
