import type { Db } from "../../src/db/knex.js";
import { checkInvariants } from "../../src/db/stores/ledger-checks.js";
import type { BenchEnv } from "./env.js";
import { runFixedCount } from "./fixed-count.js";
import type { SignedRequest } from "./load.js";
import { readyWallets, type ReadyWallet } from "./withdrawal-setup.js";

/** SPEC's default `min_minor`: the smallest request the fee schedule accepts, so the holds add up fast. */
export const WITHDRAWAL_MINOR = 500;

export interface WithdrawalSettings {
  withdrawals: number;
  withdrawalConnections: number;
  postConnections: number;
  waitTimeoutS: number;
}

/** What the books say after a run. */
export interface HoldCheck {
  expectedHeldMinor: number;
  heldMinor: number;
  /** Wallets whose held_minor equals their 201s × the amount, with available down by the same. */
  exactWallets: number;
  invariantsOk: boolean;
  violations: number;
}

export interface WithdrawalRun extends HoldCheck {
  wallets: number;
  requests: number;
  connections: number;
  seconds: number;
  /** 201s per second, from the first request sent to the last answer read. */
  rps: number;
  ok: number;
  /** Anything but 201, transport errors included. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The web process's own CPU per request, in ms: the least noise-sensitive column. */
  webCpuMsPerReq: number;
  statuses: Record<string, number>;
}

/** An untimed batch on its own wallet first, so the first timed run does not pay for a cold route. */
const WARMUP_REQUESTS = 100;

/**
 * Phase 4: `POST /v1/withdrawals` against one hot wallet (every request
 * waits for the same balance row lock) and against 100 wallets. Each request
 * is new (its own Idempotency-Key) and small, and every wallet is credited
 * for all of its requests, so all should answer 201. The worker is needed
 * only to apply the setup's top-ups and account updates; it is stopped
 * before the clock starts, since a request never waits on a job.
 */
export async function runWithdrawalPhase(o: {
  env: BenchEnv;
  db: Db;
  webUrl: string;
  settings: WithdrawalSettings;
  stopWorker: () => Promise<void>;
  webCpuMs: () => number;
  log: (msg: string) => void;
}): Promise<WithdrawalRun[]> {
  const tag = o.env.dbName.slice(-10);
  const total = o.settings.withdrawals;
  const scenarios = [
    { name: "warm", wallets: 1, requests: WARMUP_REQUESTS },
    { name: "s1", wallets: 1, requests: total },
    { name: "s100", wallets: 100, requests: total },
  ].map((s) => ({
    ...s,
    users: Array.from({ length: s.wallets }, (_, w) => ({
      user: `bench_${tag}_wd_${s.name}_${w}`,
      // Wallet w takes requests w, w + wallets, …: exactly enough credit for its share.
      creditMinor: Math.ceil((s.requests - w) / s.wallets) * WITHDRAWAL_MINOR,
    })),
  }));

  o.log(`phase 4: making ${scenarios.reduce((n, s) => n + s.wallets, 0)} wallets ready to withdraw`);
  const ready = await readyWallets({
    env: o.env,
    db: o.db,
    webUrl: o.webUrl,
    users: scenarios.flatMap((s) => s.users),
    postConnections: o.settings.postConnections,
    waitTimeoutS: o.settings.waitTimeoutS,
  });
  await o.stopWorker();

  const runs: WithdrawalRun[] = [];
  for (const s of scenarios) {
    const wallets = ready.filter((w) => s.users.some((u) => u.user === w.user));
    const requests = requestsFor(wallets, s.requests, tag);
    const r = await runFixedCount({
      url: `${o.webUrl}/v1/withdrawals`,
      connections: o.settings.withdrawalConnections,
      requests: requests.map((x) => x.req),
      serverCpuMs: o.webCpuMs,
    });
    const okByUser = new Map<string, number>();
    requests.forEach((x, i) => {
      if (r.statusOf[i] === "201") okByUser.set(x.user, (okByUser.get(x.user) ?? 0) + 1);
    });
    const ok = r.statuses["201"] ?? 0;
    const checked: WithdrawalRun = {
      wallets: s.wallets,
      requests: s.requests,
      connections: o.settings.withdrawalConnections,
      seconds: r.seconds,
      rps: ok / r.seconds,
      ok,
      errors: s.requests - ok,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      maxMs: r.maxMs,
      webCpuMsPerReq: r.serverCpuMs / s.requests,
      statuses: r.statuses,
      ...(await checkHolds(o.db, wallets, okByUser)),
    };
    const line = `${checked.rps.toFixed(0)} req/s, p99 ${checked.p99Ms.toFixed(1)} ms, errors ${checked.errors}`;
    if (s.name === "warm") {
      o.log(`phase 4: warm-up ${line} (not counted)`);
      continue;
    }
    o.log(`phase 4: ${s.requests} requests over ${s.wallets} wallet(s): ${line}`);
    runs.push(checked);
  }
  return runs;
}

/** Tokens, bodies and keys are all made before the clock starts, so the client spends it on sending. */
function requestsFor(wallets: ReadyWallet[], count: number, tag: string) {
  const body = Buffer.from(JSON.stringify({ amount_minor: WITHDRAWAL_MINOR, currency: "usd" }));
  return Array.from({ length: count }, (_, i) => {
    const w = wallets[i % wallets.length]!;
    const req: SignedRequest = {
      body,
      headers: {
        authorization: w.token,
        "content-type": "application/json",
        "content-length": String(body.length),
        "idempotency-key": `bench-wd-${tag}-${w.user}-${i}`,
      },
    };
    return { user: w.user, req };
  });
}

/** Each 201 must have held exactly its amount, once: held = 201s × amount, available = credit − held. */
async function checkHolds(db: Db, wallets: ReadyWallet[], okByUser: Map<string, number>): Promise<HoldCheck> {
  const { rows } = await db.raw<{
    rows: Array<{ user_id: string; available_minor: number; held_minor: number }>;
  }>(
    `SELECT user_id, available_minor, held_minor FROM user_wallet_balances
      WHERE currency = 'usd' AND user_id = ANY(?)`,
    [wallets.map((w) => w.user)],
  );
  const byUser = new Map(rows.map((r) => [r.user_id, r]));
  let expectedHeldMinor = 0;
  let heldMinor = 0;
  let exactWallets = 0;
  for (const w of wallets) {
    const want = (okByUser.get(w.user) ?? 0) * WITHDRAWAL_MINOR;
    const row = byUser.get(w.user);
    expectedHeldMinor += want;
    heldMinor += row?.held_minor ?? 0;
    if (row?.held_minor === want && row.available_minor === w.creditMinor - want) exactWallets++;
  }
  const report = await checkInvariants(db);
  return {
    expectedHeldMinor,
    heldMinor,
    exactWallets,
    invariantsOk: report.ok,
    violations: report.violations.length,
  };
}
