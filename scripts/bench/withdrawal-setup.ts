import { loadConfig } from "../../src/config.js";
import type { Db } from "../../src/db/knex.js";
import { withAdvisoryLock } from "../../src/db/advisory-lock.js";
import { RECONCILIATION_LOCK } from "../../src/flows/reconcile-run.js";
import { followBalanceStream } from "../../src/flows/reconcile-stream.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { producerConnection } from "../../src/queue/redis.js";
import { budgetedStripe } from "../../src/runtime.js";
import type { BenchEnv } from "./env.js";
import { postAll } from "./load.js";
import { signedRequest } from "./payloads.js";
import { bearer, mapLimit, postPatiently } from "./seed.js";
import { standinControl as control } from "../../src/standin/client.js";
import { waitUntilTerminal } from "./throughput.js";

/** A wallet that can take withdrawal requests: credited, and its Express account paying out. */
export interface ReadyWallet {
  user: string;
  token: string;
  creditMinor: number;
}

const SETUP_CONCURRENCY = 16;

async function postJson(url: string, token: string | undefined, body: unknown, key?: string) {
  // A 503 means Coffer's Stripe budget is spent for now: wait it out as a client should.
  const res = await postPatiently(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: token } : {}),
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`POST ${url} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/**
 * Makes each user ready the way a real one gets there: a top-up paid at the
 * stand-in, `POST /v1/connect/account`, onboarding finished on Stripe's side
 * (`/_standin/accounts/:id/enable`) and the card funds settled. The stand-in
 * has no webhook URL, so the bench delivers the resulting
 * `payment_intent.succeeded` and `account.updated` events itself and waits
 * for the worker to apply them; then it checks that every wallet is ready.
 */
export async function readyWallets(o: {
  env: BenchEnv;
  db: Db;
  webUrl: string;
  users: Array<{ user: string; creditMinor: number }>;
  postConnections: number;
  waitTimeoutS: number;
}): Promise<ReadyWallet[]> {
  const { standin, jwtSecret, webhookSecret } = o.env;
  const ctl = control(standin);
  const start = standin.eventCount();
  // The setup's charges are created from here on (unix seconds, a little slack for clocks).
  const setupBegan = Math.floor(Date.now() / 1000) - 5;
  const wallets = o.users.map((u) => ({ ...u, token: bearer(u.user, jwtSecret) }));

  const refs = await mapLimit(wallets, SETUP_CONCURRENCY, async (w) => {
    const topUp = await postJson(
      `${o.webUrl}/v1/wallet/top-ups`,
      w.token,
      { amount_minor: w.creditMinor, currency: "usd" },
      `fund-${w.user}`,
    );
    const pi = String(topUp.payment_intent_id);
    await ctl.post(`/payment_intents/${pi}/pay`);
    const account = String((await postJson(`${o.webUrl}/v1/connect/account`, w.token, {})).account_id);
    await ctl.post(`/accounts/${account}/enable`);
    return { pi, account };
  });
  // Approval would draw on these funds; requests do not, but a ready user has them settled.
  await ctl.post("/balance/settle");

  const wanted = new Set(refs.flatMap((r) => [r.pi, r.account]));
  const events = standin
    .events(start)
    .filter(
      (e) =>
        (e.type === "payment_intent.succeeded" || e.type === "account.updated") &&
        wanted.has(String(e.data.object.id)),
    );
  const posted = await postAll(
    `${o.webUrl}/webhooks/stripe`,
    o.postConnections,
    events.map((e) => signedRequest(JSON.stringify(e), webhookSecret)),
  );
  if (posted.lost > 0) throw new Error(`withdrawal setup: ${posted.lost} webhook deliveries never got a 2xx`);
  await waitUntilTerminal(
    o.db,
    events.map((e) => e.id),
    o.waitTimeoutS * 1000,
  );

  await learnSettled(o.env, o.db, setupBegan);

  const { rows } = await o.db.raw<{ rows: Array<{ user_id: string; available_minor: number }> }>(
    `SELECT b.user_id, b.available_minor FROM user_wallet_balances b
       JOIN stripe_connected_accounts a ON a.user_id = b.user_id AND a.payouts_enabled
      WHERE b.currency = 'usd' AND b.user_id = ANY(?)`,
    [wallets.map((w) => w.user)],
  );
  const available = new Map(rows.map((r) => [r.user_id, r.available_minor]));
  const ready = wallets.filter((w) => (available.get(w.user) ?? 0) >= w.creditMinor).length;
  // Every request must be able to succeed, or the errors column would measure the setup, not the route.
  if (ready !== wallets.length)
    throw new Error(`withdrawal setup: only ${ready}/${wallets.length} wallets are credited and enabled`);
  return wallets;
}

/**
 * A withdrawal draws only on funds Stripe has made available (WITHDRAW_UNSETTLED=false), and
 * Coffer learns that a line settled from the balance-transaction stream. The worker follows it
 * only every BALANCE_STREAM_INTERVAL_MS, so the setup reads the lines since it began itself, the
 * way a reconciliation run reads its window: the settle control's new `available_on` is stored
 * before the clock starts.
 */
async function learnSettled(env: BenchEnv, db: Db, from: number): Promise<void> {
  const config = loadConfig(env.cofferEnv);
  const redis = producerConnection(config.REDIS_URL);
  try {
    const deps = {
      config,
      db,
      stripe: budgetedStripe(config, redis, env.standin.url),
      metrics: createMetrics(),
      log: createLogger("silent"),
    };
    // Under the run's lock, waiting out a worker's pass: one that read the lines before the settle
    // must not store their older available_on after this pass.
    for (;;) {
      const pass = await withAdvisoryLock(db, RECONCILIATION_LOCK, () => followBalanceStream(deps, { from }));
      if (pass.acquired) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    redis.disconnect();
  }
}
