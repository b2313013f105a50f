import type Router from "@koa/router";
import type { Context } from "koa";
import { ingestEvent, ingestUnusable, type IngestOutcome } from "../../flows/ingest-event.js";
import { verifyWebhook, type Unusable, type VerifyFailure } from "../../stripe/verify.js";
import { isRouted } from "../../stripe/event-table.js";
import { IGNORED_EVENT_TYPES } from "../../stripe/event-table.js";
import type { Logger } from "../../logger.js";
import type { AppDeps } from "../deps.js";
import { readRawBody } from "../body.js";
import { httpError, isDatabaseDown, type HttpError } from "../errors.js";

export const WEBHOOK_BODY_LIMIT_BYTES = 1024 * 1024;

const REJECT_CODE: Record<VerifyFailure, string> = {
  missing_signature: "webhook_signature_missing",
  bad_signature: "webhook_signature_invalid",
  stale_timestamp: "webhook_timestamp_stale",
  // Refused like a stale one: a signature dated ahead would otherwise stay replayable until then.
  future_timestamp: "webhook_timestamp_stale",
};

const KNOWN_TYPES = new Set<string>(IGNORED_EVENT_TYPES);
/** Metric labels come from a closed set: a signed 500k-character type must not become a series. */
const typeLabel = (type: string) => (isRouted(type) || KNOWN_TYPES.has(type) ? type : "other");

/**
 * POST /webhooks/stripe: verify, persist, enqueue, answer. Nothing else happens
 * here, so Stripe gets its 2xx in milliseconds. Once the row is committed the
 * answer is 200 even if Redis refuses the job: the workers' sweeper enqueues
 * it later. If Postgres is down the answer is 503 and Stripe retries.
 *
 * A validly signed delivery that cannot be stored as an event is kept by its raw
 * bytes, answered 200 and alerted (`alert: true`): a 4xx or 5xx would have Stripe
 * retry it for three days and then disable the endpoint, and it can never succeed.
 */
export function webhookRoutes(router: Router, deps: AppDeps): void {
  const { config, metrics } = deps;
  router.post("/webhooks/stripe", async (ctx: Context) => {
    const reject = (reason: VerifyFailure) => {
      metrics.webhooksRejected.inc({ reason });
      ctx.state.log.warn({ reason }, "webhook rejected");
      return httpError(REJECT_CODE[reason], `webhook refused: ${reason.replaceAll("_", " ")}`);
    };
    // Anyone may call this route: without a signature header there is nothing to verify,
    // so the body is not read at all.
    const header = ctx.get("stripe-signature") || undefined;
    if (!header) {
      ctx.set("Connection", "close");
      throw reject("missing_signature");
    }
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx, WEBHOOK_BODY_LIMIT_BYTES, config.WEBHOOK_BODY_TIMEOUT_MS);
    } catch (err) {
      if ((err as HttpError).code === "body_too_large") metrics.webhooksRejected.inc({ reason: "too_large" });
      else metrics.webhooksAborted.inc();
      throw err;
    }
    const verified = verifyWebhook(
      raw,
      header,
      config.STRIPE_WEBHOOK_SECRET,
      config.STRIPE_WEBHOOK_TOLERANCE_S,
    );
    if (verified.ok === false) throw reject(verified.reason);
    if (verified.ok === "unusable") {
      ctx.body = await keepUnusable(ctx, deps, verified.unusable, raw);
      return;
    }
    const event = verified.event;
    // Built only when something is logged: the happy path logs nothing.
    const log = () => (ctx.state.log as Logger).child({ event_id: event.id, event_type: event.type });
    if (event.livemode !== config.STRIPE_LIVEMODE) {
      metrics.webhooksRejected.inc({ reason: "livemode_mismatch" });
      log().warn({ livemode: event.livemode }, "webhook rejected: livemode differs from STRIPE_LIVEMODE");
      throw livemodeMismatch(config.STRIPE_LIVEMODE);
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
    metrics.webhooksReceived.inc({ type: typeLabel(event.type) });
    if (outcome === "conflicting") {
      // 200 so Stripe stops; the stored event stays as it was. Someone must look at why.
      metrics.webhooksConflicting.inc();
      log().error({ alert: true }, "event id seen again with a different payload; nothing changed");
    }
    if (outcome === "duplicate" || outcome === "conflicting") {
      metrics.webhooksDuplicate.inc();
      ctx.body = { received: true, duplicate: true };
      return;
    }
    if (outcome === "stored_not_enqueued") metrics.webhooksUnenqueued.inc();
    ctx.body = { received: true };
  });
}

const livemodeMismatch = (livemode: boolean) =>
  httpError("webhook_livemode_mismatch", `this endpoint accepts livemode=${livemode} events only`);

async function keepUnusable(
  ctx: Context,
  deps: AppDeps,
  u: Unusable,
  raw: Buffer,
): Promise<{ received: true; duplicate?: true }> {
  const log = (ctx.state.log as Logger).child({ event_id: u.id, event_type: u.type.slice(0, 100) });
  if (u.livemode !== undefined && u.livemode !== deps.config.STRIPE_LIVEMODE) {
    deps.metrics.webhooksRejected.inc({ reason: "livemode_mismatch" });
    log.warn({ livemode: u.livemode }, "webhook rejected: livemode differs from STRIPE_LIVEMODE");
    throw livemodeMismatch(deps.config.STRIPE_LIVEMODE);
  }
  let outcome: "stored" | "duplicate";
  try {
    outcome = await ingestUnusable(deps.db, {
      id: u.id,
      type: u.type,
      livemode: u.livemode ?? deps.config.STRIPE_LIVEMODE,
      rawBody: raw,
      reason: u.reason,
    });
  } catch (err) {
    if (isDatabaseDown(err))
      throw httpError("service_unavailable", "cannot persist the event now; Stripe will retry");
    throw err;
  }
  deps.metrics.webhooksUnusable.inc();
  log.error(
    { alert: true, reason: u.reason, bytes: raw.length, duplicate: outcome === "duplicate" },
    "signed webhook cannot be stored as an event: kept raw and marked failed",
  );
  return outcome === "duplicate" ? { received: true, duplicate: true } : { received: true };
}
