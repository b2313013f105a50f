import Router from "@koa/router";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import Koa from "koa";
import pg from "pg";
import Stripe from "stripe";

/**
 * The floor Coffer's webhook ingestion is measured against: the same four
 * steps Coffer's web process does (raw body, Stripe signature, one INSERT, one
 * BullMQ add) with the same libraries and pool size, and nothing else: no
 * request ids, loggers, metrics, error envelope, Redis timeout or livemode
 * check. Whatever Coffer costs beyond this is the price of those extras.
 *
 * Run as its own process by scripts/bench.ts; it prints one `baseline ready`
 * line once listening.
 */
const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`baseline-server: ${name} is required`);
  return v;
};

const BODY_LIMIT_BYTES = 1024 * 1024;
const TOLERANCE_S = 300;
const secret = env("STRIPE_WEBHOOK_SECRET");

// Same pool ceiling as Coffer's knex pool (max 10), so neither side wins by holding more connections.
const pool = new pg.Pool({ connectionString: env("DATABASE_URL"), max: 10 });
// A producer connection as BullMQ's guide prescribes, matching Coffer's web process.
const redis = new Redis(env("REDIS_URL"), { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
redis.on("error", () => undefined);
const queue = new Queue("payments", { connection: redis, prefix: env("QUEUE_PREFIX") });
queue.on("error", () => undefined); // a failed add already fails its request, which the bench counts

interface MinimalEvent {
  id: string;
  type: string;
  livemode: boolean;
  api_version?: string | null;
  account?: string | null;
  created: number;
}

async function readBody(req: NodeJS.ReadableStream): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > BODY_LIMIT_BYTES) return null;
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

const INSERT = `INSERT INTO stripe_webhook_events
  (id, type, livemode, api_version, account, stripe_created, payload, status, enqueued_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 'enqueued', now())
  ON CONFLICT (id) DO NOTHING RETURNING 1`;

const router = new Router();
router.post("/webhooks/stripe", async (ctx) => {
  const raw = await readBody(ctx.req);
  if (!raw) {
    ctx.status = 413;
    return;
  }
  try {
    Stripe.webhooks.signature!.verifyHeader(raw, ctx.get("stripe-signature"), secret, TOLERANCE_S);
  } catch {
    ctx.status = 400;
    ctx.body = { error: "bad signature" };
    return;
  }
  const text = raw.toString("utf8");
  const event = JSON.parse(text) as MinimalEvent;
  const { rows } = await pool.query(INSERT, [
    event.id,
    event.type,
    event.livemode,
    event.api_version ?? null,
    event.account ?? null,
    event.created,
    text,
  ]);
  if (rows.length === 1) await queue.add(event.type, { eventId: event.id }, { jobId: event.id });
  ctx.body = { received: true };
});

const app = new Koa();
app.silent = true; // a 500 is counted by the load generator; a stack trace per request would only add noise
app.use(router.routes());
const server = app.listen(Number(env("PORT")), "127.0.0.1", () => {
  process.stdout.write("baseline ready\n");
});
server.keepAliveTimeout = 65_000; // as Coffer's web sets it, so keep-alive sockets behave the same

const stop = () => {
  server.close();
  void Promise.allSettled([queue.close(), pool.end()]).then(() => {
    redis.disconnect();
    process.exit(0);
  });
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
