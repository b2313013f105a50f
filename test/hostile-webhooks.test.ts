import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventEnvelope, paymentIntentObject, sign, stripeId } from "./support/events.js";
import { metric, startWeb, type WebUnderTest } from "./support/hostile-system.js";

/**
 * Validly signed webhooks that Postgres cannot store, or Coffer cannot parse (issue 11, item 2):
 * each is kept with its exact bytes, answered 200 so Stripe stops retrying, marked `failed`
 * with the reason, and alerted. Nothing is enqueued.
 */
let web: WebUnderTest;
beforeAll(async () => {
  web = await startWeb();
});
afterAll(async () => {
  await web?.stop();
});

const piEvent = (over: Record<string, unknown> = {}) =>
  eventEnvelope("payment_intent.succeeded", paymentIntentObject({ id: stripeId("pi"), amount: 1000 }), over);

/** Replaces the JSON string `"__X__"` in the serialised event by raw JSON text. */
function withRaw(event: Record<string, unknown>, rawJson: string): string {
  const text = JSON.stringify(event);
  expect(text).toContain('"__X__"');
  return text.replace('"__X__"', rawJson);
}

async function post(body: string, headers: Record<string, string> = { "stripe-signature": sign(body) }) {
  const res = await fetch(`${web.url}/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function jobsTotal(): Promise<number> {
  let n = 0;
  for (const q of Object.values(web.queues)) {
    n += Object.values(await q.getJobCounts()).reduce((a, b) => a + b, 0);
  }
  return n;
}

const unusableId = (body: string) => `unusable_${createHash("sha256").update(body).digest("hex")}`;
const deep = (n: number) => "[".repeat(n) + "]".repeat(n);

const CASES: Array<[string, () => { body: string; id: (b: string) => string }]> = [
  [
    "\\u0000 in a nested string",
    () => {
      const e = piEvent({ data: { object: { ...paymentIntentObject({}), description: "__X__" } } });
      return { body: withRaw(e, '"a\\u0000b"'), id: () => e.id as string };
    },
  ],
  [
    "\\u0000 in a key",
    () => {
      const e = piEvent({ data: { object: { ...paymentIntentObject({}), metadata: "__X__" } } });
      return { body: withRaw(e, '{"k\\u0000":"v"}'), id: () => e.id as string };
    },
  ],
  [
    "an escaped lone high surrogate",
    () => {
      const e = piEvent({ data: { object: { ...paymentIntentObject({}), description: "__X__" } } });
      return { body: withRaw(e, '"\\ud800"'), id: () => e.id as string };
    },
  ],
  [
    "an escaped lone low surrogate",
    () => {
      const e = piEvent({ data: { object: { ...paymentIntentObject({}), description: "__X__" } } });
      return { body: withRaw(e, '"x\\udc00y"'), id: () => e.id as string };
    },
  ],
  [
    "created of 1.5",
    () => {
      const e = piEvent({ created: 1.5 });
      return { body: JSON.stringify(e), id: () => e.id as string };
    },
  ],
  [
    "created of 1e20",
    () => {
      const e = piEvent({ created: "__X__" });
      return { body: withRaw(e, "1e20"), id: () => e.id as string };
    },
  ],
  ["NUL in id", () => ({ body: withRaw(piEvent({ id: "__X__" }), '"evt_\\u0000x"'), id: unusableId })],
  [
    "NUL in type",
    () => {
      const e = piEvent({ type: "__X__" });
      return { body: withRaw(e, '"payment_intent.succeeded\\u0000"'), id: () => e.id as string };
    },
  ],
  [
    "100,000-deep nesting (not parsed at all, so the id is the hash)",
    () => {
      const e = piEvent({ data: { object: { ...paymentIntentObject({}), metadata: "__X__" } } });
      return { body: withRaw(e, deep(100_000)), id: unusableId };
    },
  ],
  ["a body that is not JSON", () => ({ body: "evt=yes&not=json", id: unusableId })],
  [
    "JSON that is not an event envelope",
    () => {
      const id = stripeId("evt");
      return { body: JSON.stringify({ id, object: "payment_intent" }), id: () => id };
    },
  ],
  [
    "an event without data.object",
    () => {
      const e: Record<string, unknown> = { ...piEvent(), data: {} };
      return { body: JSON.stringify(e), id: () => e.id as string };
    },
  ],
];

describe("a validly signed webhook Coffer cannot store", () => {
  it.each(CASES)("%s: 200, kept raw as failed, alerted, nothing enqueued", async (_name, build) => {
    const { body, id: idOf } = build();
    const id = idOf(body);
    const [alertsBefore, counted, jobs] = [
      web.lines.filter((l) => l.alert === true).length,
      await metric(web.url, "coffer_webhooks_unusable_total"),
      await jobsTotal(),
    ];

    const res = await post(body);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true });
    const row = await web.tdb.db("stripe_webhook_events").where({ id }).first();
    expect(row).toMatchObject({ status: "failed", payload: null, received_via: "webhook" });
    expect(row.last_error).toMatch(/^unusable delivery: /);
    expect(Buffer.compare(row.raw_body as Buffer, Buffer.from(body))).toBe(0);
    const alerts = web.lines.filter((l) => l.alert === true);
    expect(alerts.length).toBe(alertsBefore + 1);
    expect(alerts.at(-1)).toMatchObject({ level: 50, event_id: id, reason: expect.any(String) });
    expect(await metric(web.url, "coffer_webhooks_unusable_total")).toBe(counted + 1);
    expect(await jobsTotal()).toBe(jobs);

    // Stripe's retry of the same bytes is a duplicate: still one row, still 200.
    const again = await post(body);
    expect(again).toEqual({ status: 200, body: { received: true, duplicate: true } });
    const rows = await web.tdb.db("stripe_webhook_events").where({ id }).count({ n: "*" });
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it("an unusable event cannot be replayed: there is nothing to apply", async () => {
    const e = piEvent({ created: 2.5 });
    expect((await post(JSON.stringify(e))).status).toBe(200);
    const { tokenFor } = await import("./support/tokens.js");
    const res = await fetch(`${web.url}/admin/events/${e.id as string}/replay`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokenFor("ops", { role: "admin" })}` },
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("event_not_replayable");
  });

  it("still refuses an unusable body whose livemode is not this endpoint's", async () => {
    const e = piEvent({ livemode: true, created: 1.5 });
    const res = await post(JSON.stringify(e));
    expect(res.status).toBe(400);
    expect(
      await web.tdb
        .db("stripe_webhook_events")
        .where({ id: e.id as string })
        .first(),
    ).toBeUndefined();
  });
});

describe("an event id seen again with a different payload", () => {
  it("is answered 200, changes nothing, is alerted and counted", async () => {
    const e = piEvent();
    expect((await post(JSON.stringify(e))).status).toBe(200);
    const before = await web.tdb
      .db("stripe_webhook_events")
      .where({ id: e.id as string })
      .first();
    const counted = await metric(web.url, "coffer_webhooks_conflicting_total");
    const alerts = web.lines.filter((l) => l.alert === true).length;

    // Stripe's own retry differs in per-delivery fields only: a plain duplicate, no alert.
    const retry = await post(
      JSON.stringify({ ...e, pending_webhooks: 0, request: { id: null, idempotency_key: null } }),
    );
    expect(retry).toEqual({ status: 200, body: { received: true, duplicate: true } });
    expect(web.lines.filter((l) => l.alert === true).length).toBe(alerts);
    expect(await metric(web.url, "coffer_webhooks_conflicting_total")).toBe(counted);

    // data.previous_attributes is part of the event: a copy that changes it is a different payload.
    const data = e.data as { object: object };
    const rewritten = await post(
      JSON.stringify({ ...e, data: { ...data, previous_attributes: { status: "x" } } }),
    );
    expect(rewritten).toEqual({ status: 200, body: { received: true, duplicate: true } });
    expect(await metric(web.url, "coffer_webhooks_conflicting_total")).toBe(counted + 1);

    const forged = { ...e, data: { object: { ...(e.data as { object: object }).object, amount: 999_999 } } };
    const res = await post(JSON.stringify(forged));
    expect(res).toEqual({ status: 200, body: { received: true, duplicate: true } });
    expect(
      await web.tdb
        .db("stripe_webhook_events")
        .where({ id: e.id as string })
        .first(),
    ).toEqual(before);
    expect(await metric(web.url, "coffer_webhooks_conflicting_total")).toBe(counted + 2);
    expect(web.lines.filter((l) => l.alert === true).at(-1)).toMatchObject({ event_id: e.id });
  });
});

describe("metric labels come from a closed set", () => {
  it("labels an unknown event type `other`, however long", async () => {
    const type = `x.${"y".repeat(200)}`;
    const e = eventEnvelope(type, { id: stripeId("obj"), object: "thing" });
    expect((await post(JSON.stringify(e))).status).toBe(200);
    const text = await (await fetch(`${web.url}/metrics`)).text();
    expect(text).not.toContain(type);
    expect(text).toMatch(/^coffer_webhooks_received_total\{type="other"\} [1-9]/m);
  });
});
