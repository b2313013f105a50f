import Stripe from "stripe";

export type VerifyFailure = "missing_signature" | "bad_signature" | "stale_timestamp" | "malformed";

export type Verified = { ok: true; event: Stripe.Event } | { ok: false; reason: VerifyFailure };

/**
 * Verifies the raw body against each configured secret (a list, so secrets can
 * rotate without downtime) within the timestamp tolerance. The SDK checks the
 * HMAC over the exact bytes received and the age of the `t=` timestamp.
 */
export function verifyWebhook(
  raw: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  toleranceS: number,
): Verified {
  if (!header) return { ok: false, reason: "missing_signature" };
  let reason: VerifyFailure = "bad_signature";
  for (const secret of secrets) {
    try {
      Stripe.webhooks.signature!.verifyHeader(raw, header, secret, toleranceS);
    } catch (err) {
      // The SDK checks the HMAC before the age, so this message means the signature matched but is too old.
      if (err instanceof Error && /tolerance/i.test(err.message)) reason = "stale_timestamp";
      continue;
    }
    return parseEvent(raw);
  }
  return { ok: false, reason };
}

function parseEvent(raw: Buffer): Verified {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (!isEventShape(body)) return { ok: false, reason: "malformed" };
  return { ok: true, event: body as Stripe.Event };
}

function isEventShape(b: unknown): boolean {
  if (typeof b !== "object" || b === null) return false;
  const e = b as Record<string, unknown>;
  const data = e.data as Record<string, unknown> | undefined;
  return (
    e.object === "event" &&
    typeof e.id === "string" &&
    e.id.startsWith("evt_") &&
    e.id.length <= 255 &&
    typeof e.type === "string" &&
    typeof e.created === "number" &&
    typeof e.livemode === "boolean" &&
    typeof data === "object" &&
    data !== null &&
    typeof data.object === "object" &&
    data.object !== null
  );
}
