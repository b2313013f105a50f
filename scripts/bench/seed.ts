import jwt from "jsonwebtoken";
import { HARNESS_API_KEY, type Standin, type StripeEvent } from "../../src/standin/index.js";

/**
 * Real top-ups for the worker phase. The worker needs each payment's
 * `payment_transactions` row, and Coffer's own Stripe calls are counted, so the
 * events must be about objects that exist on both sides. They are made the way a user makes
 * them: `POST /v1/wallet/top-ups`, then the customer pays at the stand-in.
 * The stand-in has no webhook URL, so its events wait in its memory until the
 * bench delivers them under the clock.
 */
export interface Seeded {
  wallets: number;
  /** Expected available balance per user, in usd minor units. */
  expectedByUser: Map<string, number>;
  /** One `payment_intent.succeeded` per top-up, as the stand-in (Stripe) wrote it. */
  events: StripeEvent[];
}

const SEED_CONCURRENCY = 16;

/** Coffer's reads at Stripe so far: GETs in the stand-in's log, not the harness's own. */
export const cofferReads = (standin: Standin) =>
  standin.requests().filter((r) => r.method === "GET" && r.key !== HARNESS_API_KEY).length;

/**
 * POSTs the way a client should: a 503 (Coffer's Stripe budget is spent, or Stripe rate limited it)
 * is retried after its Retry-After, so seeding at full speed stays under Stripe's limits.
 */
export async function postPatiently(url: string, init: RequestInit): Promise<Response> {
  for (;;) {
    const res = await fetch(url, init);
    if (res.status !== 503) return res;
    const wait = Number(res.headers.get("retry-after") ?? 1);
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, Math.max(1, wait) * 1000));
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; the seeding must not look like a load test. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, loop));
  return out;
}

export function bearer(userId: string, secret: string): string {
  return `Bearer ${jwt.sign({}, secret, { algorithm: "HS256", subject: userId, expiresIn: 3_600 })}`;
}

/** Deterministic amounts from $5 to $1,000, so a rerun books the same totals. */
const amountFor = (i: number) => 500 + ((i * 7_919) % 99_500);

export async function seedTopUps(o: {
  webUrl: string;
  standin: Standin;
  jwtSecret: string;
  events: number;
  wallets: number;
  tag: string;
  /** Amount of top-up `i`; the default spreads them from $5 to $1,000. */
  amount?: (i: number) => number;
}): Promise<Seeded> {
  const users = Array.from({ length: o.wallets }, (_, w) => `bench_${o.tag}_w${o.wallets}_${w}`);
  const tokens = new Map(users.map((u) => [u, bearer(u, o.jwtSecret)]));
  const plan = Array.from({ length: o.events }, (_, i) => ({
    i,
    user: users[i % users.length]!,
    amount: (o.amount ?? amountFor)(i),
  }));

  const piIds = await mapLimit(plan, SEED_CONCURRENCY, async (p) => {
    const res = await postPatiently(`${o.webUrl}/v1/wallet/top-ups`, {
      method: "POST",
      headers: {
        authorization: tokens.get(p.user)!,
        "content-type": "application/json",
        "idempotency-key": `bench-${o.tag}-${o.wallets}-${p.i}`,
      },
      body: JSON.stringify({ amount_minor: p.amount, currency: "usd" }),
    });
    const body = (await res.json()) as { payment_intent_id?: string };
    if (res.status !== 201 || !body.payment_intent_id)
      throw new Error(`top-up ${p.i} answered ${res.status}: ${JSON.stringify(body)}`);
    return body.payment_intent_id;
  });

  await mapLimit(piIds, SEED_CONCURRENCY, async (pi) => {
    const res = await fetch(`${o.standin.url}/_standin/payment_intents/${pi}/pay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    if (res.status !== 200) throw new Error(`paying ${pi} answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  });

  const wanted = new Set(piIds);
  const events = o.standin
    .events()
    .filter((e) => e.type === "payment_intent.succeeded" && wanted.has(String(e.data.object.id)));
  if (events.length !== o.events)
    throw new Error(
      `expected ${o.events} payment_intent.succeeded events, the stand-in has ${events.length}`,
    );

  const expectedByUser = new Map<string, number>(users.map((u) => [u, 0]));
  for (const p of plan) expectedByUser.set(p.user, expectedByUser.get(p.user)! + p.amount);
  return { wallets: o.wallets, expectedByUser, events };
}
