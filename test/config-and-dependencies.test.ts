import { spawn } from "node:child_process";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { createDb } from "../src/db/knex.js";
import { createApp } from "../src/http/app.js";
import type { AppDeps } from "../src/http/deps.js";
import { createLogger } from "../src/logger.js";
import { createMetrics } from "../src/metrics.js";
import { closeQueues, createQueues, type Queues } from "../src/queue/queues.js";
import { producerConnection } from "../src/queue/redis.js";
import { createStripeClient } from "../src/stripe/client.js";
import { api } from "./support/api.js";
import { eventEnvelope, paymentIntentObject, sign, stripeId } from "./support/events.js";
import { REDIS_URL } from "./support/pg-urls.js";
import { startSystem, type System } from "./support/system.js";

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs the web entry point with exactly `env` (plus PATH); resolves when it exits. */
function runWeb(env: Record<string, string>) {
  const proc = spawn(process.execPath, ["--import", "tsx", "src/web.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  // A process that neither fails nor starts is a failure too; never hang the suite on it. 50 s,
  // under the test timeout: a loaded 2-core machine took over 20 s to load tsx and exit 78.
  const guard = setTimeout(() => proc.kill("SIGKILL"), 50_000);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.on("exit", (code) => (clearTimeout(guard), resolve({ code, stdout, stderr }))),
  );
}

describe("configuration fails fast", () => {
  const LIVE = { STRIPE_SECRET_KEY: "sk_live_x" };
  const OK_LIVE = { ...LIVE, STRIPE_WEBHOOK_SECRET: "whsec_x", AUTH_JWT_SECRET: "a-secret-of-16-chars" };
  const MANY = {
    PORT: "abc",
    WITHDRAWAL_FEES: "{fixed: 25",
    LOG_LEVEL: "loud",
    STRIPE_LIVEMODE: "yes",
    WALLET_CURRENCIES: "usd,xyz",
    STRIPE_WEBHOOK_TOLERANCE_S: "0",
    DATABASE_URL: "not a url",
  };

  // The process itself, for the ways SPEC names; spawning is slow, so the rest are checked in-process below.
  it.concurrent.each([
    ["a Stripe key without the secrets", LIVE, ["STRIPE_WEBHOOK_SECRET", "AUTH_JWT_SECRET"]],
    ["seven bad variables at once", MANY, Object.keys(MANY)],
  ])("src/web.ts with %s exits 78 naming each bad variable", async (_name, env, named) => {
    const run = await runWeb(env);
    expect(run.code).toBe(78);
    expect(run.stderr).toMatch(/^coffer: invalid configuration/);
    for (const name of named) expect(run.stderr).toMatch(new RegExp(`^\\s+${name}[.:]`, "m"));
    expect(run.stdout).not.toContain("web listening");
  });

  it.each([
    ["production without a Stripe key", { NODE_ENV: "production" }, "STRIPE_SECRET_KEY"],
    [
      "a publishable key as the secret key",
      { ...OK_LIVE, STRIPE_SECRET_KEY: "pk_live_x" },
      "STRIPE_SECRET_KEY",
    ],
    [
      "WITHDRAWAL_FEES without a default",
      { WITHDRAWAL_FEES: '{"usd":{"fixed_minor":1,"bps":1,"min_minor":1}}' },
      "WITHDRAWAL_FEES",
    ],
    [
      "WITHDRAWAL_FEES with a negative fee",
      { WITHDRAWAL_FEES: '{"default":{"fixed_minor":-1,"bps":1,"min_minor":1}}' },
      "WITHDRAWAL_FEES",
    ],
    [
      "a webhook secret list with a non-whsec_ entry",
      { ...OK_LIVE, STRIPE_WEBHOOK_SECRET: "whsec_ok,secret2" },
      "STRIPE_WEBHOOK_SECRET",
    ],
    ["a short JWT secret", { ...OK_LIVE, AUTH_JWT_SECRET: "short" }, "AUTH_JWT_SECRET"],
    ["RATE_LIMIT_PER_MINUTE=-5", { RATE_LIMIT_PER_MINUTE: "-5" }, "RATE_LIMIT_PER_MINUTE"],
    ["REDIS_URL that is not a URL", { REDIS_URL: "localhost" }, "REDIS_URL"],
  ])("loadConfig refuses %s", (_name, env, named) => {
    let problems: string[] = [];
    try {
      loadConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(
      problems.some((p) => new RegExp(`^${named}[.:]`).test(p)),
      problems.join("; "),
    ).toBe(true);
  });
});

describe("when a dependency is down", () => {
  let sys: System;
  const servers: Server[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];

  /** An app over real HTTP whose Postgres and/or Redis is a closed port. */
  async function appWith(down: { db?: boolean; redis?: boolean }): Promise<string> {
    const redis = producerConnection(down.redis ? "redis://127.0.0.1:1" : REDIS_URL);
    redis.on("error", () => undefined);
    const queues: Queues = down.redis
      ? createQueues(redis, { prefix: `${sys.config.QUEUE_PREFIX}-down`, attempts: 1, backoffMs: 1 })
      : sys.queues;
    if (down.redis) for (const q of Object.values(queues)) q.on("error", () => undefined);
    const db = down.db ? createDb("postgres://root@127.0.0.1:1/nope") : sys.tdb.db;
    cleanup.push(async () => {
      if (down.redis) await Promise.race([closeQueues(queues), new Promise((r) => setTimeout(r, 500))]);
      redis.disconnect();
      if (down.db) await db.destroy();
    });
    const deps: AppDeps = {
      config: sys.config,
      db,
      queues,
      redisPing: () => redis.ping(),
      stripe: createStripeClient({ secretKey: "sk_test_down", apiBase: sys.standin.url, timeoutMs: 2_000 }),
      logger: createLogger("silent"),
      metrics: createMetrics(),
    };
    const server: Server = await new Promise((resolve) => {
      const s = createApp(deps).listen(0, "127.0.0.1", () => resolve(s));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  let dbDown: string;
  let redisDown: string;
  beforeAll(async () => {
    sys = await startSystem({ workers: 0 });
    dbDown = await appWith({ db: true });
    redisDown = await appWith({ redis: true });
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    for (const c of cleanup) await c();
    await sys?.stop();
  });

  const signedEvent = () => {
    const event = eventEnvelope("payment_intent.succeeded", paymentIntentObject({ id: stripeId("pi") }));
    const body = JSON.stringify(event);
    return {
      id: event.id as string,
      body,
      headers: { "stripe-signature": sign(body), "content-type": "application/json" },
    };
  };

  it.each([
    ["both up", () => sys.url, 200, { postgres: true, redis: true }],
    ["Postgres down", () => dbDown, 503, { postgres: false, redis: true }],
    ["Redis down", () => redisDown, 503, { postgres: true, redis: false }],
  ])("with %s: /healthz 200, /readyz %i", async (_name, url, status, checks) => {
    const health = await api(url(), "GET", "/healthz");
    expect([health.status, health.body]).toEqual([200, { ok: true }]);
    const ready = await api(url(), "GET", "/readyz");
    expect(ready.status).toBe(status);
    expect(ready.body).toEqual({ ok: status === 200, checks });
  });

  it("Postgres down: a correctly signed webhook gets 503 service_unavailable so Stripe retries", async () => {
    const ev = signedEvent();
    const res = await api(dbDown, "POST", "/webhooks/stripe", { rawBody: ev.body, headers: ev.headers });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: {
        code: "service_unavailable",
        message: expect.any(String),
        request_id: res.headers.get("request-id"),
      },
    });
    expect(await sys.tdb.db("stripe_webhook_events").where({ id: ev.id }).first()).toBeUndefined();
  });

  it.each([
    ["GET", "/v1/wallet", undefined],
    ["POST", "/v1/wallet/top-ups", { amount_minor: 1_000, currency: "usd" }],
  ])("Postgres down: %s %s gets 503 service_unavailable", async (method, path, body) => {
    const res = await api(dbDown, method, path, {
      user: "down-user",
      headers: { "idempotency-key": "down-1" },
      ...(body && { body }),
    });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("service_unavailable");
  });

  it("Redis down: a webhook is stored and answered 200, for the sweeper to enqueue", async () => {
    const ev = signedEvent();
    const res = await api(redisDown, "POST", "/webhooks/stripe", { rawBody: ev.body, headers: ev.headers });
    expect(res.status).toBe(200);
    const row = await sys.tdb.db("stripe_webhook_events").where({ id: ev.id }).first();
    expect(row).toMatchObject({ status: "received", enqueued_at: null });
    expect(row.last_error).toMatch(/enqueue/);
  });
});
