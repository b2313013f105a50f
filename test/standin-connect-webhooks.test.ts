import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandin } from "../src/standin/index.js";
import type { Standin, StripeEvent } from "../src/standin/index.js";
import { sign } from "./support/events.js";
import { standinControl, stripeFor } from "./support/stripe-client.js";
import { CONNECT_WEBHOOK_SECRET, eventually, startSystem, type System } from "./support/system.js";
import { WEBHOOK_SECRET } from "./support/tokens.js";

/**
 * Stripe's Connect endpoint is a webhook endpoint of its own, with its own signing secret: events
 * that happen on connected accounts (they carry `account`) are signed with it, the platform's
 * events with the platform endpoint's. Coffer takes a list of secrets, so it is configured with
 * both (test/support/system.ts) and must refuse anything signed with neither.
 */

const PLATFORM_SECRET = "whsec_platform_endpoint";
const CONNECT_SECRET = "whsec_connect_endpoint";

async function connectedAccount(stripe: Stripe, url: string): Promise<string> {
  const account = await stripe.accounts.create({
    type: "express",
    country: "US",
    capabilities: { transfers: { requested: true } },
  });
  // Onboarding finishes at Stripe: account.updated on the connected account.
  const enabled = await standinControl(url, `/accounts/${account.id}/enable`, {});
  expect(enabled.status).toBe(200);
  return account.id;
}

describe("the stand-in signs with each endpoint's secret", () => {
  let standin: Standin;
  let receiver: ReturnType<typeof createServer>;
  const received: Array<{ body: string; signature: string }> = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          body: Buffer.concat(chunks).toString("utf8"),
          signature: String(req.headers["stripe-signature"]),
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as AddressInfo;
    standin = await startStandin({
      webhookUrl: `http://127.0.0.1:${port}/webhooks/stripe`,
      webhookSecret: PLATFORM_SECRET,
      connectWebhookSecret: CONNECT_SECRET,
    });
  });
  afterAll(async () => {
    await standin.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it("signs connected-account events with the Connect secret only, platform events with the platform's", async () => {
    const stripe = stripeFor(standin);
    const accountId = await connectedAccount(stripe, standin.url);
    await stripe.paymentIntents.create({ amount: 1000, currency: "usd" });
    await standin.flushWebhooks();

    const verifies = (r: { body: string; signature: string }, secret: string) => {
      try {
        Stripe.webhooks.constructEvent(r.body, r.signature, secret);
        return true;
      } catch {
        return false;
      }
    };
    const deliveries = received.map((r) => ({ r, event: JSON.parse(r.body) as StripeEvent }));
    const connect = deliveries.filter((d) => d.event.account !== undefined);
    const platform = deliveries.filter((d) => d.event.account === undefined);
    expect(connect.map((d) => d.event.type)).toContain("account.updated");
    expect(new Set(connect.map((d) => d.event.account))).toEqual(new Set([accountId]));
    expect(platform.map((d) => d.event.type)).toEqual(["payment_intent.created"]);
    for (const { r } of connect)
      expect([verifies(r, CONNECT_SECRET), verifies(r, PLATFORM_SECRET)]).toEqual([true, false]);
    for (const { r } of platform)
      expect([verifies(r, PLATFORM_SECRET), verifies(r, CONNECT_SECRET)]).toEqual([true, false]);

    // The control moves the Connect secret like the platform one; a redelivery uses it too.
    const rotated = await standinControl(standin.url, "/webhook", {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/stripe`,
      connect_secret: "whsec_connect_rotated",
    });
    expect(rotated.status).toBe(200);
    received.length = 0;
    expect(standin.redeliverEvent(connect[0]?.event.id ?? "")).toBe(true);
    await standin.flushWebhooks();
    expect(received.map((r) => verifies(r, "whsec_connect_rotated"))).toEqual([true]);
  });
});

describe("Coffer with both secrets", () => {
  let sys: System;
  beforeAll(async () => {
    sys = await startSystem({ workers: 0 });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  const stored = async (id: string) =>
    (await sys.tdb.db("stripe_webhook_events").where({ id }).first()) as unknown;

  it("accepts a Connect event signed with the Connect secret and refuses one signed with an unknown secret", async () => {
    const stripe = stripeFor(sys.standin);
    const start = sys.standin.eventCount();
    const accountId = await connectedAccount(stripe, sys.standin.url);
    await sys.standin.flushWebhooks();
    const event = sys.standin.events(start).find((e) => e.type === "account.updated");
    expect(event?.account).toBe(accountId);
    // Delivered by the stand-in signed with CONNECT_WEBHOOK_SECRET, and stored by Coffer.
    await eventually(() => stored(event?.id ?? ""), { what: "the Connect event stored" });

    const forged = { ...event, id: `evt_forged_${Date.now()}` };
    const payload = JSON.stringify(forged);
    const post = (secret: string) =>
      fetch(`${sys.url}/webhooks/stripe`, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": sign(payload, { secret }) },
        body: payload,
      });
    const unknown = await post("whsec_not_ours");
    expect(unknown.status).toBe(400);
    expect(await stored(forged.id)).toBeUndefined();
    expect((await post(CONNECT_WEBHOOK_SECRET)).status).toBe(200);
    expect(await stored(forged.id)).toBeDefined();
    expect(WEBHOOK_SECRET).not.toBe(CONNECT_WEBHOOK_SECRET);
  });
});
