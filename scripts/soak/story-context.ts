import type Stripe from "stripe";
import type { Db } from "../../src/db/knex.js";
import type { ApiClient } from "./api.js";
import type { Harness } from "./harness.js";
import type { Model } from "./model.js";
import { sleep } from "./random.js";
import type { Scenario } from "./workload.js";

/**
 * What a story needs: Coffer's API (as the user's frontend and as an admin), the stand-in as
 * the customer and as Stripe (directly, never through the fault proxy), the soak's model, and
 * for the one thing no public route does (a top-up authorized first and captured in part) the
 * application's database.
 */
export interface StoryContext {
  api: ApiClient;
  harness: Harness;
  model: Model;
  db: Db;
  seed: number;
  /** Things Coffer answered that a story did not expect; each fails the audit. */
  anomaly(scenario: Scenario, what: string): void;
}

export const stripeOf = (ctx: StoryContext): Stripe => ctx.harness.stripe;

/** The story's n-th pause (its steps interleave with other stories' and with faults). */
export const pause = (s: Scenario, n: number) => sleep(s.pausesMs[n % s.pausesMs.length] ?? 0);

/** A stand-in control that must succeed (the soak plays Stripe; a refusal is the soak's bug). */
export const stripeDoes = (ctx: StoryContext, path: string, body: object = {}) =>
  ctx.harness.post(path, body);

/** A control whose refusal is part of the story (a declined card). */
export const stripeTries = (ctx: StoryContext, path: string, body: object = {}) =>
  ctx.harness.tryPost(path, body);

/**
 * Polls `check` until it returns a value, or throws after `timeoutMs`. The pause starts at
 * `everyMs` and grows by half each time up to 5 s: hundreds of stories wait at once, and their
 * polls must not become the load that slows what they wait for.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  o: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 300_000);
  for (let pauseMs = o.everyMs ?? 500; ; pauseMs = Math.min(pauseMs * 1.5, 5_000)) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pauseMs);
  }
}

/** Retries a database step while Postgres is crashed or restarting. */
export async function whileDbUp<T>(step: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(1_000);
    }
  }
}

/**
 * Creates a top-up through `POST /v1/wallet/top-ups` (the key makes retries safe) and returns
 * its PaymentIntent id. The model learns nothing yet: no money moved until the customer pays.
 */
export async function createTopUp(ctx: StoryContext, s: Scenario): Promise<string> {
  ctx.model.touch(s.user, s.currency);
  const res = await ctx.api.call("POST", "/v1/wallet/top-ups", {
    user: s.user,
    body: { amount_minor: s.amountMinor, currency: s.currency },
    idempotencyKey: `soak-${ctx.seed}-${s.index}-top-up`,
  });
  if (res.status !== 201) throw new Error(`top-up answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.payment_intent_id as string;
}

/** The customer pays by card; returns the charge. The model credits the amount Stripe captured. */
export async function payByCard(ctx: StoryContext, s: Scenario, piId: string): Promise<string> {
  const paid = await stripeDoes(ctx, `/payment_intents/${piId}/pay`);
  if (paid.status !== "succeeded") throw new Error(`payment ${piId} is ${String(paid.status)}`);
  ctx.model.captured(s.user, s.currency, s.amountMinor);
  return paid.latest_charge as string;
}
