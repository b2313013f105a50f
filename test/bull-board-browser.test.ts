import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pay, topUp, wallet } from "./support/api.js";
import { deliver } from "./support/events.js";
import { expectInvariants, openEventCount } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";
import { tokenFor } from "./support/tokens.js";

/**
 * Bull Board as an admin uses it: in a real headless Chromium, signed in through the login
 * page, clicking the board's own buttons. A retry of a failed event's job re-opens the event
 * (an audited replay) and it is applied; a retry of a processed event's job is refused and the
 * board says why; another site's page cannot make the browser act on the board.
 */
let sys: System;
let browser: BrowserContext;
let profile: string;
let attacker: Server;
let attackerUrl: string;

beforeAll(async () => {
  sys = await startSystem({ workers: 1, env: { JOB_ATTEMPTS: "2", JOB_BACKOFF_MS: "50" } });
  sys.standin.setWebhook(undefined);
  profile = mkdtempSync(join(tmpdir(), "coffer-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  // Another site: `localhost` is not the same site as `127.0.0.1`, where the board is served.
  attacker = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" }).end(
      `<form id="f" method="post" action="${sys.url}/admin/queues/api/queues/payments/add">
         <input name="name" value="evil"><input name="data" value="{}"></form>
       <script>document.getElementById("f").submit()</script>`,
    );
  });
  await new Promise<void>((r) => attacker.listen(0, "127.0.0.1", r));
  attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => attacker?.close(r));
  if (profile) rmSync(profile, { recursive: true, force: true });
  await sys?.stop();
});

/** A charge.succeeded whose PaymentIntent Stripe cannot serve for longer than the job's retries. */
async function failedCredit(user: string): Promise<string> {
  const created = await topUp(sys.url, user, 2_000);
  const piId = created.body.payment_intent_id as string;
  await pay(sys.standin.url, piId);
  const charge = sys.standin
    .events()
    .find(
      (e) =>
        e.type === "charge.succeeded" &&
        (e.data.object as { payment_intent: string }).payment_intent === piId,
    )!;
  const ev = { ...charge, data: { object: { ...charge.data.object, metadata: {} } } };
  sys.standin.injectFault({ method: "GET", pathPrefix: "/v1/payment_intents/", kind: "500", times: 1_000 });
  await deliver(sys.url, ev as never);
  await eventually(async () => (await openEventCount(sys)) === 0, { what: "retries spent" });
  sys.standin.clearFaults();
  return ev.id;
}

const eventStatus = async (id: string) =>
  ((await sys.tdb.db("stripe_webhook_events").where({ id }).first()) as { status: string }).status;

/** The job card's own Retry button (the lucide refresh icon in its header), then the board's confirm. */
async function clickRetry(page: Page, jobId: string): Promise<void> {
  const header = page
    .locator(`a[href*="/${jobId}?"]`)
    .locator("xpath=ancestor::div[contains(@class,'header')][1]");
  await header.locator("button:has(svg.lucide-refresh-cw)").click();
  await page.getByRole("button", { name: "Confirm" }).click();
}

describe("Bull Board in a browser", () => {
  let page: Page;

  it("sends an admin without a cookie to the login page, which sets a strict, HttpOnly board cookie", async () => {
    page = await browser.newPage();
    await page.goto(`${sys.url}/admin/queues`);
    expect(new URL(page.url()).pathname).toBe("/admin/queues/login");
    await page.fill("#token", tokenFor("ops", { role: "admin" }));
    await page.click("button[type=submit]");
    await page.waitForURL(`${sys.url}/admin/queues`);
    await page.getByText("payments").first().waitFor();
    const cookies = await browser.cookies(`${sys.url}/admin/queues`);
    expect(cookies).toEqual([
      expect.objectContaining({
        name: "coffer_admin_token",
        path: "/admin/queues",
        httpOnly: true,
        sameSite: "Strict",
        secure: false, // served over plain http on a developer machine
      }),
    ]);
    // Script cannot read it.
    expect(await page.evaluate("document.cookie")).toBe("");
  }, 60_000);

  it("retries a failed event's job as a replay: the event is processed and the wallet credited", async () => {
    const eventId = await failedCredit("bb-retry");
    expect(await eventStatus(eventId)).toBe("failed");
    await page.goto(`${sys.url}/admin/queues/queue/payments?status=failed`);
    await clickRetry(page, eventId);
    await eventually(async () => (await eventStatus(eventId)) === "processed", { what: "event processed" });
    expect(await wallet(sys.url, "bb-retry")).toEqual({ available: 2_000, pending: 0, held: 0 });

    const audit = await sys.tdb.db("admin_audit_log").orderBy("id");
    expect(audit).toEqual([
      expect.objectContaining({
        actor: "ops",
        action: "event.replay",
        target: eventId,
        reason: `Bull Board retry of payments job ${eventId}`,
        before: expect.objectContaining({ status: "failed" }),
      }),
      expect.objectContaining({
        actor: "ops",
        action: "bull_board.put",
        target: `/api/queues/payments/${eventId}/retry`,
        after: { outcome: "succeeded", status: 204, replayed: eventId },
      }),
    ]);
    expect(audit[0].created_at.getTime()).toBeLessThanOrEqual(audit[1].created_at.getTime());
    await expectInvariants(sys);
  }, 90_000);

  it("refuses to retry the job of a processed event, and the board shows why", async () => {
    const [done] = await sys.tdb.db("stripe_webhook_events").where({ status: "processed" }).pluck("id");
    await eventually(async () => (await sys.queues.payments.getJobState(done)) === "completed");
    const before = await sys.tdb.db("admin_audit_log").count({ n: "*" }).first();
    await page.goto(`${sys.url}/admin/queues/queue/payments?status=completed`);
    await clickRetry(page, done);
    await page.getByText(`event ${done} is already processed`).waitFor();
    expect(await sys.queues.payments.getJobState(done)).toBe("completed");
    expect(await eventStatus(done)).toBe("processed");
    const rows = await sys.tdb.db("admin_audit_log").orderBy("id", "desc").limit(1);
    expect(Number((await sys.tdb.db("admin_audit_log").count({ n: "*" }).first())!.n)).toBe(
      Number(before!.n) + 1,
    );
    expect(rows[0]).toMatchObject({
      action: "bull_board.put",
      target: `/api/queues/payments/${done}/retry`,
      after: { outcome: "failed", status: 409, code: "event_not_replayable" },
    });
  }, 60_000);

  it("Retry all on the failed jobs replays their failed events too", async () => {
    const eventId = await failedCredit("bb-retry-all");
    await page.goto(`${sys.url}/admin/queues/queue/payments?status=failed`);
    await page.getByRole("button", { name: "Retry all" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await eventually(async () => (await eventStatus(eventId)) === "processed", { what: "event processed" });
    expect(await wallet(sys.url, "bb-retry-all")).toEqual({ available: 2_000, pending: 0, held: 0 });
    const [replay, action] = await sys.tdb
      .db("admin_audit_log")
      .orderBy("id", "desc")
      .limit(2)
      .then((r) => r.reverse());
    expect(replay).toMatchObject({ action: "event.replay", target: eventId, actor: "ops" });
    expect(action).toMatchObject({
      action: "bull_board.put",
      target: "/api/queues/payments/retry/failed",
      after: { outcome: "succeeded", status: 200, replayed: 1, retried: 0, skipped: 0 },
    });
    await expectInvariants(sys);
  }, 90_000);

  it("audits an action that fails with its failure", async () => {
    const status = await page.evaluate(async () => {
      const res = await fetch("/admin/queues/api/queues/payments/evt_gone/retry", { method: "PUT" });
      return res.status;
    });
    expect(status).toBe(404);
    const [row] = await sys.tdb.db("admin_audit_log").orderBy("id", "desc").limit(1);
    expect(row).toMatchObject({
      actor: "ops",
      action: "bull_board.put",
      target: "/api/queues/payments/evt_gone/retry",
      after: { outcome: "failed", status: 404, code: "ERRORS.JOB_NOT_FOUND" },
    });
  }, 30_000);

  it("does not act on a form another site's page submits", async () => {
    const jobsBefore = await sys.queues.payments.getJobCounts();
    const auditBefore = await sys.tdb.db("admin_audit_log").count({ n: "*" }).first();
    const evil = await browser.newPage();
    const answer = evil.waitForResponse((r) => r.url().includes("/admin/queues/api/queues/payments/add"));
    await evil.goto(attackerUrl);
    expect((await answer).status()).toBe(403);
    expect(await sys.queues.payments.getJobCounts()).toEqual(jobsBefore);
    expect(await sys.tdb.db("admin_audit_log").count({ n: "*" }).first()).toEqual(auditBefore);
    await evil.close();
  }, 30_000);
});
