import type Router from "@koa/router";
import type { Context } from "koa";
import { ingestEvent, type IngestOutcome } from "../../flows/ingest-event.js";
import { verifyWebhook, type VerifyFailure } from "../../stripe/verify.js";
import type { Logger } from "../../logger.js";
import type { AppDeps } from "../deps.js";
import { readRawBody } from "../body.js";
import { httpError, isDatabaseDown } from "../errors.js";

export const WEBHOOK_BODY_LIMIT_BYTES = 1024 * 1024;

const REJECT_CODE: Record<VerifyFailure, string> = {
  missing_signature: "webhook_signature_missing",
  bad_signature: "webhook_signature_invalid",
  stale_timestamp: "webhook_timestamp_stale",
  malformed: "webhook_malformed",
};

/**
 * POST /webhooks/stripe: verify, persist, enqueue, answer. Nothing else happens
 * here, so Stripe gets its 2xx in milliseconds. Once the row is committed the
 * answer is 200 even if Redis refuses the job: the workers' sweeper enqueues
 * it later. If Postgres is down the answer is 503 and Stripe retries.
 */
export function webhookRoutes(router: Router, deps: AppDeps): void {
  const { config, metrics } = deps;
  router.post("/webhooks/stripe", async (ctx: Context) => {
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx, WEBHOOK_BODY_LIMIT_BYTES);
    } catch (err) {
      metrics.webhooksRejected.inc({ reason: "too_large" });
      throw err;
    }
    const verified = verifyWebhook(
      raw,
      ctx.get("stripe-signature") || undefined,
      config.STRIPE_WEBHOOK_SECRET,
      config.STRIPE_WEBHOOK_TOLERANCE_S,
    );
    if (!verified.ok) {
      metrics.webhooksRejected.inc({ reason: verified.reason });
      ctx.state.log.warn({ reason: verified.reason }, "webhook rejected");
      throw httpError(
        REJECT_CODE[verified.reason],
        `webhook refused: ${verified.reason.replaceAll("_", " ")}`,
      );
    }
    const event = verified.event;
    // Built only when something is logged: the happy path logs nothing.
    const log = () => (ctx.state.log as Logger).child({ event_id: event.id, event_type: event.type });
    if (event.livemode !== config.STRIPE_LIVEMODE) {
      metrics.webhooksRejected.inc({ reason: "livemode_mismatch" });
      log().warn({ livemode: event.livemode }, "webhook rejected: livemode differs from STRIPE_LIVEMODE");
      throw httpError(
        "webhook_livemode_mismatch",
        `this endpoint accepts livemode=${config.STRIPE_LIVEMODE} events only`,
      );
    }

    let outcome: IngestOutcome;
    try {
      outcome = await ingestEvent(
        { db: deps.db, queues: deps.queues, log },
        event,
        raw.toString("utf8"),
        "webhook",
      );
    } catch (err) {
      if (isDatabaseDown(err))
        throw httpError("service_unavailable", "cannot persist the event now; Stripe will retry");
      throw err;
    }
    metrics.webhooksReceived.inc({ type: event.type });
    if (outcome === "duplicate") {
      metrics.webhooksDuplicate.inc();
      ctx.body = { received: true, duplicate: true };
      return;
    }
    if (outcome === "stored_not_enqueued") metrics.webhooksUnenqueued.inc();
    ctx.body = { received: true };
  });
}
