import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLANS_SYNC, PLANS_SYNC_SCHEDULER_ID } from "../src/queue/names.js";
import { api } from "./support/api.js";
import { openEventCount } from "./support/seed.js";
import { stripeFor } from "./support/stripe-client.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { ownRedis, type OwnRedis } from "./support/redis-server.js";
import { controlCall } from "../src/standin/client.js";
import { WEBHOOK_SECRET } from "./support/tokens.js";

/**
 * `subscription_plans` mirrors Stripe's prices with their products: synced as each worker starts
 * and on PLANS_SYNC_CRON, kept current in between by price and product webhooks; a price
 * deactivated or deleted shows inactive after the next webhook, or after the next sync when the
 * webhook is lost. GET /v1/plans lists the active ones in the wallet currencies.
 */
let sys: System;
let stripe: Stripe;
let redis: OwnRedis;
const USER = "plans-reader";

beforeAll(async () => {
  // Its own Redis, so the last test can empty it and watch the scheduler come back.
  redis = await ownRedis();
  sys = await startSystem({ workers: 0, env: { REDIS_URL: redis.url } });
  stripe = stripeFor(sys.standin);
}, 60_000);
afterAll(async () => {
  await sys?.stop();
  await redis?.stop();
});

const plans = async (query = "") => (await api(sys.url, "GET", `/v1/plans${query}`, { user: USER })).body;
const planRow = (priceId: string) => sys.tdb.db("subscription_plans").where({ price_id: priceId }).first();
const settled = () => eventually(async () => (await openEventCount(sys)) === 0, { what: "events applied" });

async function monthly(name: string, currency = "usd", amount = 900): Promise<Stripe.Price> {
  return stripe.prices.create({
    product_data: { name },
    currency,
    unit_amount: amount,
    recurring: { interval: "month", trial_period_days: 7 },
  });
}

async function syncNow(): Promise<void> {
  const job = await sys.queues.maintenance.add(PLANS_SYNC, {});
  await eventually(async () => (await job.getState()) === "completed", { what: "plans sync done" });
}

let pro: Stripe.Price;
let basic: Stripe.Price;

describe("plans", () => {
  it("are synced as a worker starts, before any webhook, and listed in the wallet currencies", async () => {
    sys.standin.setWebhook(undefined); // these prices' events are never delivered
    pro = await monthly("Pro", "usd", 1500);
    basic = await monthly("Basic", "eur", 500);
    const foreign = await monthly("Swiss", "chf", 1000); // not a wallet currency
    const oneOff = await stripe.prices.create({
      product_data: { name: "Once" },
      currency: "usd",
      unit_amount: 100,
    });
    const archived = await monthly("Old", "usd");
    await stripe.prices.update(archived.id, { active: false });
    sys.standin.setWebhook(`${sys.url}/webhooks/stripe`, WEBHOOK_SECRET);

    await sys.startWorker();
    await eventually(async () => (await planRow(pro.id)) && (await planRow(archived.id)), {
      what: "start-up sync",
    });
    expect(await planRow(oneOff.id)).toBeUndefined();
    expect(await planRow(foreign.id)).toMatchObject({ active: true, currency: "chf" });
    expect(await planRow(archived.id)).toMatchObject({ active: false, price_active: false });

    const all = await plans("?limit=100");
    expect(all.data.map((p: { price_id: string }) => p.price_id).sort()).toEqual([pro.id, basic.id].sort());
    expect(all.data.find((p: { price_id: string }) => p.price_id === pro.id)).toEqual({
      price_id: pro.id,
      product_id: pro.product,
      name: "Pro",
      unit_amount_minor: 1500,
      currency: "usd",
      interval: "month",
      interval_count: 1,
      trial_period_days: 7,
    });
    const first = await plans("?limit=1");
    expect(first.has_more).toBe(true);
    const second = await plans(`?limit=1&starting_after=${first.data[0].price_id}`);
    expect(second).toMatchObject({ has_more: false, data: [{ price_id: all.data[1].price_id }] });
  });

  it("follow price and product webhooks: a new price, a deactivation, a renamed product", async () => {
    const fresh = await monthly("Fresh", "gbp", 700);
    await eventually(async () => (await planRow(fresh.id))?.active === true, {
      what: "price.created applied",
    });

    await stripe.prices.update(pro.id, { active: false });
    await eventually(async () => (await planRow(pro.id))?.active === false, {
      what: "price.updated applied",
    });
    expect((await plans("?limit=100")).data.map((p: { price_id: string }) => p.price_id)).not.toContain(
      pro.id,
    );

    await stripe.products.update(String(basic.product), { name: "Basic Plus" });
    await eventually(async () => (await planRow(basic.id))?.name === "Basic Plus", {
      what: "product.updated applied",
    });
    await stripe.products.update(String(basic.product), { active: false });
    await eventually(async () => (await planRow(basic.id))?.active === false, { what: "product archived" });
    expect(await planRow(basic.id)).toMatchObject({ price_active: true, product_active: false });
    await stripe.products.update(String(basic.product), { active: true });
    await settled();
  });

  it("catch up at the next sync when the webhooks were lost: deactivated, deleted, renamed", async () => {
    await eventually(async () => (await planRow(basic.id))?.active === true, { what: "basic active again" });
    const doomed = await monthly("Doomed", "usd");
    await eventually(async () => (await planRow(doomed.id)) !== undefined, { what: "doomed mirrored" });
    sys.standin.dropWebhooks({ types: ["price.*", "product.*"] });
    await stripe.prices.update(basic.id, { active: false });
    await stripe.products.update(String(basic.product), { name: "Basic, renamed" });
    await stripe.products.update(String(doomed.product), { name: "Doomed, renamed" });
    await controlCall(sys.standin.url, `/prices/${doomed.id}/delete`, {});
    sys.standin.dropWebhooks(undefined);
    expect(sys.standin.droppedEvents().length).toBeGreaterThanOrEqual(3);
    // Past the second of the rows' last events: a sync never takes a row of its own second for unlisted.
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await planRow(basic.id)).toMatchObject({ active: true }); // the webhook was lost

    await syncNow();
    expect(await planRow(basic.id)).toMatchObject({
      active: false,
      price_active: false,
      name: "Basic, renamed",
    });
    expect(await planRow(doomed.id)).toMatchObject({ active: false, price_deleted: true });
    const listed = (await plans("?limit=100")).data.map((p: { price_id: string }) => p.price_id);
    expect(listed).not.toContain(basic.id);
    expect(listed).not.toContain(doomed.id);
  });

  it("a late, older webhook changes nothing; a redelivered one neither", async () => {
    const [old] = sys.standin
      .events()
      .filter((e) => e.type === "price.created" && (e.data.object as { id: string }).id === basic.id);
    expect(sys.standin.redeliverEvent(old!.id)).toBe(true);
    await sys.standin.flushWebhooks();
    await settled();
    expect(await planRow(basic.id)).toMatchObject({ active: false });
  });

  it("refuses bad paging with a code and needs a bearer", async () => {
    const bad = await api(sys.url, "GET", "/v1/plans?limit=0", { user: USER });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe("invalid_field");
    expect((await api(sys.url, "GET", "/v1/plans?active=false", { user: USER })).body.error.code).toBe(
      "unknown_field",
    );
    expect((await api(sys.url, "GET", "/v1/plans")).status).toBe(401);
  });

  it("keeps its scheduler: registered by the worker, and again after Redis comes back empty", async () => {
    const scheduler = () =>
      sys.queues.maintenance.getJobScheduler(PLANS_SYNC_SCHEDULER_ID).catch(() => undefined);
    expect(await scheduler()).toMatchObject({ pattern: sys.config.PLANS_SYNC_CRON });
    await redis.stop();
    await redis.start();
    await eventually(async () => (await scheduler()) !== undefined, {
      what: "scheduler registered again",
      timeoutMs: 40_000,
    });
  }, 60_000);
});
