import { createHmac, timingSafeEqual } from "node:crypto";
import { DomainError } from "../ledger/errors.js";

/**
 * The token in an account link's refresh_url, naming the connected account it may renew.
 *
 * Stripe sends the user's browser to refresh_url when an onboarding link has expired or been
 * used; that request carries no bearer token, so the URL itself must say whose link to make,
 * in a way nobody can forge for another account. The token is `v1.<payload>.<mac>`: the account
 * id and an expiry, signed with HMAC-SHA256 under a key derived from AUTH_JWT_SECRET for this
 * purpose alone. It is not a JWT and not signed with the JWT key, so it can never pass as a
 * bearer token: whoever sees the URL (browser history, Stripe's logs) can renew that account's
 * onboarding link for an hour, and do nothing else.
 */
export const REFRESH_TOKEN_TTL_S = 3_600;
const PURPOSE = "coffer connect refresh_url v1";

const keyFor = (secret: string) => createHmac("sha256", secret).update(PURPOSE).digest();
const mac = (secret: string, payload: string) =>
  createHmac("sha256", keyFor(secret)).update(payload).digest("base64url");

export function signRefreshToken(secret: string, accountId: string, nowS: number): string {
  const payload = Buffer.from(JSON.stringify({ a: accountId, e: nowS + REFRESH_TOKEN_TTL_S })).toString(
    "base64url",
  );
  return `v1.${payload}.${mac(secret, payload)}`;
}

/** The account the token names; a forged, altered, malformed or expired token is a DomainError. */
export function verifyRefreshToken(secret: string, token: string, nowS: number): string {
  const [version, payload, given, ...rest] = token.split(".");
  if (version !== "v1" || !payload || !given || rest.length > 0) throw invalid();
  const want = Buffer.from(mac(secret, payload));
  const got = Buffer.from(given);
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw invalid();
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const { a, e } = (claims ?? {}) as { a?: unknown; e?: unknown };
  if (typeof a !== "string" || !a.startsWith("acct_") || typeof e !== "number") throw invalid();
  if (e < nowS) {
    throw new DomainError(
      "connect_link_expired",
      "this onboarding link has expired: start again from the app (POST /v1/connect/account)",
    );
  }
  return a;
}

const invalid = () =>
  new DomainError("connect_link_invalid", "this onboarding link is not valid: start again from the app");
