import type Router from "@koa/router";
import type { Context } from "koa";
import { ingestEvent, ingestUnusable, type IngestOutcome } from "../../flows/ingest-event.js";
import { mayVerify, verifyWebhook, type Unusable, type VerifyFailure } from "../../stripe/verify.js";
import { isRouted } from "../../stripe/event-table.js";
import { IGNORED_EVENT_TYPES } from "../../stripe/event-table.js";
import type { DomainError } from "../../ledger/errors.js";
import type { Logger } from "../../logger.js";
import type { AppDeps } from "../deps.js";
import { readRawBody } from "../body.js";
import { httpError, isDatabaseDown } from "../errors.js";
import { webhookGuard } from "../rate-limit.js";
import { operation, route } from "../openapi/operation.js";
import { z } from "zod";

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
export const receiveStripeWebhook = operation({
  method: "post",
  path: "/webhooks/stripe",
  operationId: "receiveStripeWebhook",
  summary:
    "Stripe's webhook endpoint: verifies the signature over the raw body, stores the event, enqueues it, answers 200",
  description:
    "Without a Stripe-Signature header the body is not read (400 webhook_signature_missing); past WEBHOOK_REFUSALS_PER_MINUTE refused deliveries from one client address in a minute (the address behind TRUSTED_PROXY_HOPS proxies), that address gets 429 rate_limited (with Retry-After) until its window ends: before the body is read when its Stripe-Signature header cannot verify (no `v1=` signature, or a `t=` outside the tolerance), else once the body fails verification. A validly signed delivery never counts and is never refused by this bound. The body must arrive within WEBHOOK_BODY_TIMEOUT_MS (400 body_timeout) and be at most 1 MiB (413). A signature timestamp outside the tolerance, past or future, is 400 webhook_timestamp_stale; another livemode than STRIPE_LIVEMODE 400 webhook_livemode_mismatch. A validly signed body that cannot be stored as an event (not JSON, not an envelope, NUL or lone surrogate escapes, a fractional or out-of-range `created`, an unusable id or type, deep nesting) is kept raw, marked failed, alerted and answered 200, so Stripe does not retry it. An event id seen again is answered 200 `duplicate: true` and changes nothing. 503 when Postgres cannot store it: Stripe retries.",
  security: "none",
  headers: {
    "Stripe-Signature": {
      required: true,
      description: "`t=<unix seconds>,v1=<HMAC-SHA256 of t.body>` with a secret of STRIPE_WEBHOOK_SECRET",
      schema: z.string(),
    },
  },
  rawBody: {
    description: "A Stripe Event, exactly as Stripe sent it (the signature covers these bytes)",
    schema: z.looseObject({
      id: z.string(),
      object: z.literal("event"),
      type: z.string(),
      created: z.int(),
      livemode: z.boolean(),
      data: z.looseObject({ object: z.looseObject({}) }),
    }),
  },
  responses: {
    200: {
      description: "Stored (or already stored: `duplicate`)",
      body: z.object({ received: z.literal(true), duplicate: z.literal(true).optional() }),
    },
  },
  errors: [400, 413, 429, 503],
});

export function webhookRoutes(router: Router, deps: AppDeps): void {
  const { config, metrics } = deps;
  route(router, receiveStripeWebhook, async (ctx: Context) => {
    // Refused deliveries count against the client's address (src/http/webhook-guard.ts): past
    // WEBHOOK_REFUSALS_PER_MINUTE it is answered 429 until its window ends. Every 429 is counted
    // as rejected{reason="rate_limited"}, and only so.
    const guard = webhookGuard(ctx);
    const limited = (waitS: number) => {
      metrics.webhooksRejected.inc({ reason: "rate_limited" });
      ctx.set("Connection", "close");
      return addressLimited(waitS);
    };
    const header = ctx.get("stripe-signature") || undefined;
    // An address over the bound may be one Stripe shares with the flood (a proxy, a NAT), and
    // only the signature tells them apart: a request whose header could verify is still read and
    // verified, and answered 429 only if it then fails. The rest are refused before the body.
    const blockedS = guard.blockedForS(ctx.ip);
    if (blockedS > 0 && !mayVerify(header, config.STRIPE_WEBHOOK_TOLERANCE_S)) throw limited(blockedS);
    const overLimit = async () => {
      const waitS = await guard.refused(ctx.ip);
      return waitS > 0 ? limited(waitS) : undefined;
    };
    const reject = async (reason: VerifyFailure) => {
      const over = await overLimit();
      if (over) return over;
      metrics.webhooksRejected.inc({ reason });
      ctx.state.log.warn({ reason }, "webhook rejected");
      return httpError(REJECT_CODE[reason], `webhook refused: ${reason.replaceAll("_", " ")}`);
    };
    // Anyone may call this route: without a signature header there is nothing to verify,
    // so the body is not read at all.
    if (!header) {
      ctx.set("Connection", "close");
      throw await reject("missing_signature");
    }
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx, WEBHOOK_BODY_LIMIT_BYTES, config.WEBHOOK_BODY_TIMEOUT_MS);
    } catch (err) {
      const over = await overLimit();
      if ((err as DomainError).code !== "body_too_large") metrics.webhooksAborted.inc();
      else if (!over) metrics.webhooksRejected.inc({ reason: "too_large" });
      throw over ?? err;
    }
    const verified = verifyWebhook(
      raw,
      header,
      config.STRIPE_WEBHOOK_SECRET,
      config.STRIPE_WEBHOOK_TOLERANCE_S,
    );
    if (verified.ok === false) throw await reject(verified.reason);
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
      outcome = await ingestEvent({ db: deps.db, queues: deps.queues, log }, event, verified.text, "webhook");
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

const addressLimited = (retryAfterS: number) =>
  httpError("rate_limited", "too many refused webhook deliveries from this address; retry later", {
    retry_after_s: retryAfterS,
  });

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
