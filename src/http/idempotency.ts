import { createHash } from "node:crypto";
import type { Context } from "koa";
import type { Db } from "../db/knex.js";
import { claimKey, completeKey, releaseKey } from "../db/stores/http-idempotency.js";
import { callerOf } from "./auth.js";
import { httpError } from "./errors.js";

/** A claim older than this is presumed to belong to a crashed process and may be taken over. */
const IN_FLIGHT_STALE_MS = 60_000;

export function requireIdempotencyKey(ctx: Context): string {
  const key = ctx.get("idempotency-key");
  if (!key) throw httpError("idempotency_key_missing", "this route requires an Idempotency-Key header");
  if (key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw httpError("bad_request", "Idempotency-Key must be 1–255 printable ASCII characters");
  }
  return key;
}

/**
 * Runs `fn` at most once per (user, route, Idempotency-Key).
 * - same key, same body, finished → the stored response, replayed;
 * - same key, different body → 422;
 * - same key while the first request is still running → 409.
 * Only successes are stored. A failure releases the key so the client may
 * retry the same request, and the handler's own keys (e.g. the PaymentIntent's
 * idempotency key) make that retry safe even if Stripe acted the first time.
 * Validation runs before this, so a bad request writes nothing at all.
 */
export async function idempotent(
  ctx: Context,
  db: Db,
  route: string,
  key: string,
  validatedBody: unknown,
  fn: () => Promise<{ status: number; body: unknown }>,
): Promise<void> {
  const userId = callerOf(ctx).userId;
  const requestHash = createHash("sha256").update(JSON.stringify(validatedBody)).digest("hex");
  const k = { userId, route, key };
  const existing = await claimKey(db, { ...k, requestHash, staleMs: IN_FLIGHT_STALE_MS });
  if (existing) {
    if (existing.request_hash !== requestHash) {
      throw httpError(
        "idempotency_key_reused",
        "this Idempotency-Key was used with a different request body",
      );
    }
    if (existing.state === "in_flight") {
      throw httpError(
        "idempotency_request_in_flight",
        "a request with this Idempotency-Key is still being processed",
      );
    }
    ctx.status = existing.response_status ?? 200;
    ctx.body = existing.response_body;
    ctx.set("Idempotent-Replayed", "true");
    return;
  }
  let result: { status: number; body: unknown };
  try {
    result = await fn();
  } catch (err) {
    await releaseKey(db, k).catch((e: unknown) =>
      ctx.state.log.error({ err: e }, "could not release idempotency key"),
    );
    throw err;
  }
  await completeKey(db, k, result.status, result.body);
  ctx.status = result.status;
  ctx.body = result.body;
}
