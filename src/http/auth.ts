import jwt from "jsonwebtoken";
import type { Context, Next } from "koa";
import type { Db } from "../db/knex.js";
import { isStorableText } from "../db/storable.js";
import { ensureUser } from "../db/stores/users.js";
import type { Config } from "../config.js";
import { httpError } from "./errors.js";

export interface Caller {
  userId: string;
  isAdmin: boolean;
}

/**
 * What a token is held to, read from the configuration as a whole: every place that verifies a
 * token (the API's /v1 and /admin, Bull Board's cookie and login) passes the same three, so none
 * can leave one out and fall back to a default of its own (Bull Board once did, for the skew).
 */
export type TokenRules = Pick<Config, "AUTH_JWT_SECRET" | "AUTH_MAX_TOKEN_LIFETIME_S" | "AUTH_CLOCK_SKEW_S">;

/**
 * `Authorization: Bearer <JWT>`, HS256 only (an `alg: none` or RS256 token is
 * refused), with `sub` and `exp` required. `sub` is opaque and used verbatim, so it
 * must be text Postgres can store (no NUL, no lone surrogate: `"\ud800"` and
 * `"\udc00"` would otherwise both become U+FFFD and share one wallet): 422 otherwise.
 * `exp` must lie within AUTH_MAX_TOKEN_LIFETIME_S of now, so a leaked `exp: 1e300` token is not
 * good forever; AUTH_CLOCK_SKEW_S more is allowed, since an issuer whose clock runs a few seconds
 * ahead mints a full-lifetime token whose `exp` is that much further away by our clock.
 * (An expired token gets no leeway: jsonwebtoken checks `exp` against our clock alone.)
 */
export function verifyBearer(header: string | undefined, rules: TokenRules): Caller {
  const {
    AUTH_JWT_SECRET: secret,
    AUTH_MAX_TOKEN_LIFETIME_S: maxLifetimeS,
    AUTH_CLOCK_SKEW_S: clockSkewS,
  } = rules;
  const m = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header ?? "");
  if (!m) throw httpError("unauthorized", "missing bearer token");
  let claims: jwt.JwtPayload;
  try {
    const decoded = jwt.verify(m[1]!, secret, { algorithms: ["HS256"] });
    if (typeof decoded === "string") throw new Error("payload is not an object");
    claims = decoded;
  } catch {
    throw httpError("unauthorized", "invalid or expired token");
  }
  if (typeof claims.sub !== "string" || claims.sub.length === 0 || claims.sub.length > 255) {
    throw httpError("unauthorized", "token needs a `sub`");
  }
  if (!isStorableText(claims.sub)) {
    throw httpError("invalid_text", "token `sub` must be well-formed text without NUL", { param: "sub" });
  }
  if (typeof claims.exp !== "number") throw httpError("unauthorized", "token needs an `exp`");
  if (claims.exp - Date.now() / 1000 > maxLifetimeS + clockSkewS) {
    throw httpError("unauthorized", `token \`exp\` is more than ${maxLifetimeS} s away`);
  }
  return { userId: claims.sub, isAdmin: claims.role === "admin" };
}

/** Authenticates and provisions the user on first sight (one idempotent insert, cached per process). */
export function requireUser(db: Db, rules: TokenRules) {
  const known = new Set<string>();
  return async (ctx: Context, next: Next) => {
    const caller = verifyBearer(ctx.get("authorization") || undefined, rules);
    if (!known.has(caller.userId)) {
      await ensureUser(db, caller.userId);
      if (known.size > 100_000) known.clear();
      known.add(caller.userId);
    }
    ctx.state.caller = caller;
    identify(ctx, caller);
    await next();
  };
}

export function requireAdmin(rules: TokenRules) {
  return async (ctx: Context, next: Next) => {
    const caller = verifyBearer(ctx.get("authorization") || undefined, rules);
    identify(ctx, caller); // before the role check: a 403's access line names who was refused
    if (!caller.isAdmin) throw httpError("forbidden", "admin role required");
    ctx.state.caller = caller;
    await next();
  };
}

/**
 * Binds the verified caller's id to the request's logger as `user_id`, so every later line of
 * the request carries it, the access line included (SPEC → Limits and logs; issue 12: method,
 * route, status, ms, request id, user id). One field for users and admins alike: the audit rows
 * and the admin flows' own lines still name their `actor` explicitly. Only after the token
 * verified, so an unauthenticated request's lines never name anyone.
 */
export function identify(ctx: Context, caller: Caller): void {
  ctx.state.log = ctx.state.log.child({ user_id: caller.userId });
}

export const callerOf = (ctx: Context): Caller => ctx.state.caller as Caller;
