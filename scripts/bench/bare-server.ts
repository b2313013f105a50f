import Router from "@koa/router";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import Koa from "koa";
import pg from "pg";
import Stripe from "stripe";

/**
 * The bare ingestion path Coffer's webhook is measured against (issue 9): a minimal Koa route
 * that reads the raw body, verifies it with `stripe.webhooks.constructEvent`, inserts
 * `(id text primary key, type, payload jsonb, received_at)` with ON CONFLICT DO NOTHING into a
 * table with no other index, adds the BullMQ job with `removeOnComplete`, and answers 200. Same
 * libraries and pool size as Coffer's web; nothing else (no request id, log line, metric,
 * livemode check or envelope). Run as its own process by scripts/bench.ts; prints `bare ready`.
 */
const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`bare-server: ${name} is required`);
  return v;
};
const secret = env("STRIPE_WEBHOOK_SECRET");
const stripe = new Stripe("sk_test_bare");
const pool = new pg.Pool({ connectionString: env("DATABASE_URL"), max: 10 });
const redis = new Redis(env("REDIS_URL"), { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
redis.on("error", () => undefined);
const queue = new Queue("payments", { connection: redis, prefix: env("QUEUE_PREFIX") });
queue.on("error", () => undefined); // a failed add fails its request, which the bench counts

await pool.query(`CREATE TABLE IF NOT EXISTS bench_bare_events (
  id text PRIMARY KEY, type text NOT NULL, payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`);

async function readBody(req: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const router = new Router();
router.post("/webhooks/stripe", async (ctx) => {
  const raw = await readBody(ctx.req);
  let event: Stripe.Event;
  try {
    event = stripe.webhooks.constructEvent(raw, ctx.get("stripe-signature"), secret);
  } catch {
    ctx.status = 400;
    return;
  }
  await pool.query(
    `INSERT INTO bench_bare_events (id, type, payload, received_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (id) DO NOTHING`,
    [event.id, event.type, raw.toString("utf8")],
  );
  await queue.add(event.type, { eventId: event.id }, { jobId: event.id, removeOnComplete: true });
  ctx.status = 200;
});

const app = new Koa();
app.silent = true;
app.use(router.routes());
const server = app.listen(Number(env("PORT")), "127.0.0.1", () => process.stdout.write("bare ready\n"));
server.keepAliveTimeout = 65_000; // as Coffer's web sets it

const stop = () => {
  server.close();
  void Promise.allSettled([queue.close(), pool.end()]).then(() => {
    redis.disconnect();
    process.exit(0);
  });
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
