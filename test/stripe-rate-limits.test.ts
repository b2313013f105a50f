import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/http/app.js";
import { createLogger } from "../src/logger.js";
import { createMetrics } from "../src/metrics.js";
import { producerConnection } from "../src/queue/redis.js";
import { budgetedStripe } from "../src/runtime.js";
import { api, topUp } from "./support/api.js";
import { control } from "./support/lifecycles.js";
import { REDIS_URL } from "./support/pg-urls.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * Rate limits are waited out, never counted as failures. A job that meets Stripe's 429 is
 * delayed and succeeds later with no attempt spent, in BullMQ and in the event row; a web route
 * answers 503 `stripe_rate_limited` with Retry-After, for Stripe's 429 and for our own exhausted
 * budget alike.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
});
afterAll(async () => sys?.stop());

const eventRow = (id: string) => sys.tdb.db("stripe_webhook_events").where({ id }).first();

async function jobOf(eventId: string): Promise<Job | undefined> {
  for (const q of Object.values(sys.queues)) {
    const job = await q.getJob(eventId);
    if (job) return job;
  }
  return undefined;
}

describe("a job rate limited by Stripe", () => {
  it("is delayed, then succeeds with no attempt spent", { timeout: 60_000 }, async () => {
    const user = "rl-account";
    const onboarded = await api(sys.url, "POST", "/v1/connect/account", { user });
    expect(onboarded.status).toBe(200);
    const accountId = onboarded.body.account_id as string;
    const since = sys.standin.eventCount();
    const requestsBefore = sys.standin.requests().length;

    // The next two reads anyone makes of Stripe are refused with 429: those of the account.updated job.
    sys.standin.injectFault({ method: "GET", pathPrefix: "/v1/", kind: "429", times: 2 });
    await control(sys.standin).post(`/accounts/${accountId}/enable`, {});
    const event = (await eventually(
      async () =>
        sys.standin
          .events(since)
          .find((e) => e.type === "account.updated" && (e.data.object as { id: string }).id === accountId),
      { what: "account.updated" },
    ))!;

    // While it waits, the row says why and is open again, not failed.
    const waiting = await eventually(
      async () => {
        const r = await eventRow(event.id);
        return r?.last_error?.startsWith("rate limited by Stripe") ? r : undefined;
      },
      { intervalMs: 20, what: "the rate-limit note on the event row" },
    );
    expect(waiting.status).not.toBe("failed");

    await eventually(
      async () => (await api(sys.url, "GET", "/v1/connect/account", { user })).body.payouts_enabled === true,
      { what: "the account synced after the rate limit" },
    );
    const row = await eventually(async () => {
      const r = await eventRow(event.id);
      return r?.status === "processed" ? r : undefined;
    });
    // However often it was put back (other jobs of the same onboarding may meet one of the two
    // 429s), the row counts one attempt and keeps no error; BullMQ counts only the finishing
    // attempt (it adds one on completion), though it started the job more than once.
    expect(row).toMatchObject({ status: "processed", attempts: 1, last_error: null });
    const job = (await jobOf(event.id))!;
    expect(job.attemptsMade).toBe(1);
    expect(job.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(job.attemptsStarted - 1).toBeLessThanOrEqual(2);
    const limited = sys.standin
      .requests()
      .slice(requestsBefore)
      .filter((r) => r.status === 429);
    expect(limited, "reads met the injected 429s").toHaveLength(2);
  });
});

describe("a web route rate limited", () => {
  it("answers 503 stripe_rate_limited with Retry-After when Stripe answers 429", async () => {
    sys.standin.injectFault({ method: "POST", pathPrefix: "/v1/payment_intents", kind: "429" });
    const key = `rl-top-${randomUUID()}`;
    const limited = await topUp(sys.url, "rl-web", 1_000, "usd", key);
    expect(limited.status).toBe(503);
    expect(limited.body.error.code).toBe("stripe_rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Nothing happened at Stripe: the same request again goes through.
    expect((await topUp(sys.url, "rl-web", 1_000, "usd", key)).status).toBe(201);

    sys.standin.injectFault({ method: "POST", pathPrefix: "/v1/accounts", kind: "429" });
    const connect = await api(sys.url, "POST", "/v1/connect/account", { user: "rl-web" });
    expect(connect.status).toBe(503);
    expect(connect.body.error.code).toBe("stripe_rate_limited");
    expect(connect.headers.get("retry-after")).toBeTruthy();
  });

  it("answers 503 stripe_rate_limited with Retry-After when the shared budget is exhausted", async () => {
    // A web process whose budget is two requests a second (one slot a second).
    const redis = producerConnection(REDIS_URL);
    redis.on("error", () => undefined);
    const config = { ...sys.config, STRIPE_MAX_RPS: 2, QUEUE_PREFIX: `${sys.config.QUEUE_PREFIX}-web` };
    const app = createApp({
      config,
      db: sys.tdb.db,
      queues: sys.queues,
      redisPing: () => redis.ping(),
      stripe: budgetedStripe(config, redis, sys.standin.url),
      logger: createLogger("silent"),
      metrics: createMetrics(),
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const asks = Array.from({ length: 5 }, (_, i) => ({
        user: `rl-budget-${i}`,
        key: `rl-b-${randomUUID()}`,
      }));
      const first = await Promise.all(asks.map((a) => topUp(url, a.user, 1_000, "usd", a.key)));
      const refused = first.filter((r) => r.status === 503);
      // At most two slots fall within the second a request may wait: the others are told to come back.
      expect(first.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
      expect(refused.length).toBeGreaterThanOrEqual(3);
      for (const r of refused) {
        expect(r.body.error.code).toBe("stripe_rate_limited");
        expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      // Coming back later, one at a time, each goes through under its own key.
      for (const [i, a] of asks.entries()) {
        if (first[i]!.status === 201) continue;
        const again = await topUp(url, a.user, 1_000, "usd", a.key);
        expect(again.status).toBe(201);
      }
    } finally {
      await new Promise((r) => server.close(r));
      redis.disconnect();
    }
  });
});
