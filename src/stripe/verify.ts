import { createHash } from "node:crypto";
import Stripe from "stripe";
import { findUnstorableText, jsonDepth, mayHoldUnstorableText, mayNestDeeperThan } from "../db/storable.js";

export type VerifyFailure = "missing_signature" | "bad_signature" | "stale_timestamp" | "future_timestamp";

/**
 * A signed delivery Coffer cannot use as an event: it is kept anyway (raw bytes), marked
 * failed and alerted, because refusing it would make Stripe retry it for days. The fields
 * that were usable are given so the row says as much as it safely can.
 */
export interface Unusable {
  reason: string;
  id: string;
  type: string;
  livemode: boolean | undefined;
}

export type Verified =
  /** `text`: the body as UTF-8, decoded once here for the caller to store. */
  | { ok: true; event: Stripe.Event; text: string }
  | { ok: "unusable"; unusable: Unusable }
  | { ok: false; reason: VerifyFailure };

/** Stripe's payloads nest a handful of levels; jsonb's parser recurses, so a cap comes first. */
export const MAX_EVENT_DEPTH = 64;
/** 9999-12-31: beyond it a unix time fits no timestamp Postgres or JavaScript dates agree on. */
const MAX_CREATED = 253_402_300_799;
const EVENT_TYPE = /^[a-z0-9_.]{1,255}$/;

/**
 * Verifies the raw body against each configured secret (a list, so secrets can
 * rotate without downtime) within the timestamp tolerance. The SDK checks the
 * HMAC over the exact bytes received and the age of the `t=` timestamp, but not a
 * timestamp in the future: one signed 10 years ahead would stay replayable for 10
 * years, so that is refused here, like a stale one.
 */
export function verifyWebhook(
  raw: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  toleranceS: number,
  nowMs = Date.now(),
): Verified {
  if (!header) return { ok: false, reason: "missing_signature" };
  let reason: VerifyFailure = "bad_signature";
  for (const secret of secrets) {
    try {
      Stripe.webhooks.signature!.verifyHeader(raw, header, secret, toleranceS, undefined, nowMs);
    } catch (err) {
      // The SDK checks the HMAC before the age, so this message means the signature matched but is too old.
      if (err instanceof Error && /tolerance/i.test(err.message)) reason = "stale_timestamp";
      continue;
    }
    if (signedAt(header) - Math.floor(nowMs / 1000) > toleranceS)
      return { ok: false, reason: "future_timestamp" };
    return parseEvent(raw);
  }
  return { ok: false, reason };
}

/**
 * Whether a Stripe-Signature header could verify for some body: a `t=` within the tolerance, past
 * or future, and a `v1=` of 64 lowercase hex digits (the only form the SDK's comparison with its
 * HMAC can match), read as the SDK reads the header. No body is needed to tell, so a request
 * whose header fails this can be refused before its body is read; one that passes must have its
 * body read and verified to know.
 */
export function mayVerify(header: string | undefined, toleranceS: number, nowMs = Date.now()): boolean {
  if (!header) return false;
  const t = signedAt(header);
  if (!Number.isFinite(t) || t < 0 || Math.abs(Math.floor(nowMs / 1000) - t) > toleranceS) return false;
  return header.split(",").some((item) => {
    const kv = item.split("=");
    return kv[0] === "v1" && /^[0-9a-f]{64}$/.test(kv[1] ?? "");
  });
}

/** The `t=` the SDK verified: it reads the header the same way (the last `t=` wins). */
function signedAt(header: string): number {
  let t = -1;
  for (const item of header.split(",")) {
    const kv = item.split("=");
    if (kv[0] === "t") t = parseInt(kv[1] ?? "", 10);
  }
  return t;
}

/**
 * Checks everything the insert and the handlers rely on before anything is stored: the
 * nesting, that it is JSON, the envelope's shape, `id` and `type` as storable short
 * strings, `created` as a whole number of seconds in range, and every string storable.
 */
export function parseEvent(raw: Buffer): Verified {
  const text = raw.toString("utf8");
  const usable = (r: string, body?: Record<string, unknown>): Verified => ({
    ok: "unusable",
    unusable: {
      reason: r,
      id: usableId(body?.id) ?? unusableId(raw),
      type: typeof body?.type === "string" && EVENT_TYPE.test(body.type) ? body.type : "unusable",
      livemode: typeof body?.livemode === "boolean" ? body.livemode : undefined,
    },
  });
  if (mayNestDeeperThan(text, MAX_EVENT_DEPTH) && jsonDepth(text) > MAX_EVENT_DEPTH)
    return usable(`nested deeper than ${MAX_EVENT_DEPTH} levels`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return usable("not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return usable("not an event envelope");
  const e = body as Record<string, unknown>;
  const data = e.data as Record<string, unknown> | undefined;
  if (
    e.object !== "event" ||
    typeof data !== "object" ||
    data === null ||
    typeof data.object !== "object" ||
    data.object === null
  )
    return usable("not an event envelope", e);
  if (usableId(e.id) === undefined) return usable("id is not a storable evt_ id", e);
  if (typeof e.type !== "string" || !EVENT_TYPE.test(e.type))
    return usable("type is not a storable event type", e);
  if (typeof e.livemode !== "boolean") return usable("livemode is not a boolean", e);
  if (
    typeof e.created !== "number" ||
    !Number.isSafeInteger(e.created) ||
    e.created < 0 ||
    e.created > MAX_CREATED
  )
    return usable("created is not a whole number of seconds in range", e);
  for (const f of ["api_version", "account"] as const) {
    const v = e[f];
    if (v !== undefined && v !== null && (typeof v !== "string" || v.length > 255))
      return usable(`${f} is not a short string`, e);
  }
  // The walk over every string runs only if the text has an escape that could make one unstorable.
  const bad = mayHoldUnstorableText(text) ? findUnstorableText(e) : null;
  if (bad !== null) return usable(`text Postgres cannot store at ${bad.slice(0, 200)}`, e);
  return { ok: true, event: body as Stripe.Event, text };
}

function usableId(id: unknown): string | undefined {
  return typeof id === "string" && /^evt_[A-Za-z0-9_]{1,251}$/.test(id) ? id : undefined;
}

/**
 * When the id itself is unusable the row still needs a unique one: the hash of the exact
 * bytes. A redelivery of the same bytes is then a duplicate like any other, two different
 * bodies get two rows, and the `unusable_` prefix can never be mistaken for Stripe's `evt_`.
 */
export function unusableId(raw: Buffer): string {
  return `unusable_${createHash("sha256").update(raw).digest("hex")}`;
}
