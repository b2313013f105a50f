import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../src/stripe/verify.js";
import { eventEnvelope, paymentIntentObject, sign, stripeId } from "./support/events.js";
import { startSystem, type System } from "./support/system.js";
import { WEBHOOK_SECRET } from "./support/tokens.js";

/**
 * POST /webhooks/stripe refuses anything it cannot trust, and a refusal leaves no
 * trace: no row, no job. The system runs with two webhook secrets (a rotation in
 * progress), so every positive case also proves that either secret is accepted.
 */
const OLD_SECRET = "whsec_old_rotating_out";
const OTHER_SECRET = "whsec_somebody_else";

let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 0, env: { STRIPE_WEBHOOK_SECRET: `${OLD_SECRET},${WEBHOOK_SECRET}` } });
});
afterAll(async () => {
  await sys?.stop();
});

/** A routed event type, so that if it were accepted a job would appear. */
function piEvent(over: Record<string, unknown> = {}): Record<string, unknown> {
  const pi = paymentIntentObject({ id: stripeId("pi"), amount: 1000, amount_received: 1000 });
  return eventEnvelope("payment_intent.succeeded", pi, over);
}

/** `chunked` streams the body without a Content-Length, so only the bytes read can trip the limit. */
async function post(body: string, headers: Record<string, string>, chunked = false) {
  const res = await fetch(`${sys.url}/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    ...(chunked ? { body: new Blob([body]).stream(), duplex: "half" } : { body }),
  } as RequestInit);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

async function rejected(reason: string): Promise<number> {
  const text = await (await fetch(`${sys.url}/metrics`)).text();
  const m = new RegExp(`^coffer_webhooks_rejected_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

async function jobsTotal(): Promise<number> {
  let n = 0;
  for (const q of Object.values(sys.queues)) {
    const counts = await q.getJobCounts();
    n += Object.values(counts).reduce((a, b) => a + b, 0);
  }
  return n;
}

async function jobsFor(eventId: string): Promise<number> {
  const found = await Promise.all(Object.values(sys.queues).map((q) => q.getJob(eventId)));
  return found.filter(Boolean).length;
}

const rows = async (id?: string) => {
  const q = sys.tdb.db("stripe_webhook_events");
  if (id) q.where({ id });
  return Number((await q.count({ n: "*" }).first())?.n);
};

const bigEvent = () =>
  piEvent({ data: { object: { id: stripeId("pi"), pad: "x".repeat(2 * 1024 * 1024) } } });

interface Req {
  id: string;
  body: string;
  headers: Record<string, string>;
  chunked?: boolean;
}

/** The event as a validly signed request (a case may then tamper with the body or the header). */
function signed(event: Record<string, unknown>, opts: { secret?: string; timestamp?: number } = {}): Req {
  const body = JSON.stringify(event);
  return { id: event.id as string, body, headers: { "stripe-signature": sign(body, opts) } };
}

const now = () => Math.floor(Date.now() / 1000);

// A validly signed body that is not a usable event (not JSON, not an envelope, no data.object)
// is no longer refused: it is kept raw, failed and alerted (test/hostile-webhooks.test.ts).
const REJECTIONS: Array<[string, () => Req, number, string, string]> = [
  [
    "a forged signature (another secret)",
    () => signed(piEvent(), { secret: OTHER_SECRET }),
    400,
    "webhook_signature_invalid",
    "bad_signature",
  ],
  [
    "a body changed by one byte after signing",
    () => {
      const r = signed(piEvent());
      const body = r.body.replace('"amount":1000', '"amount":9000');
      expect(body).not.toBe(r.body);
      return { ...r, body };
    },
    400,
    "webhook_signature_invalid",
    "bad_signature",
  ],
  [
    "a garbled Stripe-Signature header",
    () => ({ ...signed(piEvent()), headers: { "stripe-signature": "t=abc,v1=zz" } }),
    400,
    "webhook_signature_invalid",
    "bad_signature",
  ],
  [
    "a timestamp 301 s old",
    () => signed(piEvent(), { timestamp: now() - 301 }),
    400,
    "webhook_timestamp_stale",
    "stale_timestamp",
  ],
  [
    // Well past the edge: a second passing before the server reads it must not bring it inside
    // (the edge itself is checked below, on a fixed clock).
    "a timestamp 330 s in the future",
    () => signed(piEvent(), { timestamp: now() + 330 }),
    400,
    "webhook_timestamp_stale",
    "future_timestamp",
  ],
  [
    "a timestamp 10 years in the future",
    () => signed(piEvent(), { timestamp: now() + 10 * 365 * 86_400 }),
    400,
    "webhook_timestamp_stale",
    "future_timestamp",
  ],
  [
    "a stale timestamp signed with the old secret",
    () => signed(piEvent(), { secret: OLD_SECRET, timestamp: now() - 400 }),
    400,
    "webhook_timestamp_stale",
    "stale_timestamp",
  ],
  [
    "livemode: true on a test-mode endpoint",
    () => signed(piEvent({ livemode: true })),
    400,
    "webhook_livemode_mismatch",
    "livemode_mismatch",
  ],
  ["a 2 MiB body", () => signed(bigEvent()), 413, "body_too_large", "too_large"],
  [
    "a 2 MiB body, chunked",
    () => ({ ...signed(bigEvent()), chunked: true }),
    413,
    "body_too_large",
    "too_large",
  ],
  [
    "no Stripe-Signature header",
    () => ({ ...signed(piEvent()), headers: {} }),
    400,
    "webhook_signature_missing",
    "missing_signature",
  ],
];

describe("POST /webhooks/stripe refuses what it cannot trust", () => {
  it.each(REJECTIONS)("%s → %i %s, no row, no job, counted", async (_name, build, status, code, reason) => {
    const req = build();
    const [rowsBefore, jobsBefore, countedBefore] = [await rows(), await jobsTotal(), await rejected(reason)];

    const res = await post(req.body, req.headers, req.chunked);

    expect(res.status).toBe(status);
    expect(res.body).toEqual({
      error: { code, message: expect.any(String), request_id: res.headers.get("request-id") },
    });
    expect(await rows()).toBe(rowsBefore);
    expect(await rows(req.id)).toBe(0);
    expect(await jobsFor(req.id)).toBe(0);
    expect(await jobsTotal()).toBe(jobsBefore);
    expect(await rejected(reason)).toBe(countedBefore + 1);
  });
});

describe("POST /webhooks/stripe accepts what it can trust", () => {
  it.each([
    ["the current secret", WEBHOOK_SECRET, 0],
    ["the secret being rotated out", OLD_SECRET, 0],
    ["the current secret 290 s ago, inside the tolerance", WEBHOOK_SECRET, 290],
  ])("stores and enqueues an event signed with %s", async (_name, secret, ageS) => {
    const req = signed(piEvent(), { secret, timestamp: now() - ageS });
    const res = await post(req.body, req.headers);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true });
    const row = await sys.tdb.db("stripe_webhook_events").where({ id: req.id }).first();
    expect(row).toMatchObject({ type: "payment_intent.succeeded", status: "enqueued", livemode: false });
    expect(await sys.queues.payments.getJob(req.id)).toBeDefined();
  });

  it("stores an unknown event type as ignored, answers 200 and enqueues nothing", async () => {
    const event = eventEnvelope("issuing_cardholder.created", {
      id: stripeId("ich"),
      object: "issuing.cardholder",
    });
    const req = signed(event);
    const jobsBefore = await jobsTotal();
    const res = await post(req.body, req.headers);
    expect(res.status).toBe(200);
    const row = await sys.tdb.db("stripe_webhook_events").where({ id: req.id }).first();
    expect(row).toMatchObject({ type: "issuing_cardholder.created", status: "ignored" });
    expect(row.payload).toEqual(event);
    expect(await jobsFor(req.id)).toBe(0);
    expect(await jobsTotal()).toBe(jobsBefore);
  });

  it("answers a duplicate delivery 200 and keeps one row and one job", async () => {
    const event = piEvent();
    const first = await post(JSON.stringify(event), { "stripe-signature": sign(JSON.stringify(event)) });
    const jobsAfterFirst = await jobsTotal();
    // Stripe re-signs each delivery attempt; the second one comes with a fresh header.
    const again = signed(event, { secret: OLD_SECRET });
    const second = await post(again.body, again.headers);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body).toEqual({ received: true, duplicate: true });
    expect(await rows(event.id as string)).toBe(1);
    expect(await jobsFor(event.id as string)).toBe(1);
    expect(await jobsTotal()).toBe(jobsAfterFirst);
    const metrics = await (await fetch(`${sys.url}/metrics`)).text();
    expect(metrics).toMatch(/^coffer_webhooks_duplicate_total [1-9]\d*$/m);
  });
});

describe("the signature timestamp's tolerance, on a fixed clock", () => {
  const NOW_S = 1_800_000_000;
  /** What the verifier says of an event signed `offsetS` from NOW_S, read `intoSecondMs` into NOW_S. */
  const verify = (offsetS: number, intoSecondMs = 0) => {
    const payload = JSON.stringify(piEvent());
    const header = sign(payload, { timestamp: NOW_S + offsetS });
    const r = verifyWebhook(Buffer.from(payload), header, [WEBHOOK_SECRET], 300, NOW_S * 1000 + intoSecondMs);
    return r.ok === false ? r.reason : r.ok;
  };

  it("accepts 300 s either way, to the end of the second, and refuses 301", () => {
    expect([verify(-300), verify(300), verify(-300, 999), verify(300, 999)]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect([verify(-301), verify(301)]).toEqual(["stale_timestamp", "future_timestamp"]);
  });
});
