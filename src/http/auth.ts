import jwt from "jsonwebtoken";
import type { Context, Next } from "koa";
import type { Db } from "../db/knex.js";
import { isStorableText } from "../db/storable.js";
import { ensureUser } from "../db/stores/users.js";
import { httpError } from "./errors.js";

export interface Caller {
  userId: string;
  isAdmin: boolean;
}

/** AUTH_MAX_TOKEN_LIFETIME_S's default: a day. */
export const DEFAULT_MAX_TOKEN_LIFETIME_S = 86_400;

/**
 * `Authorization: Bearer <JWT>`, HS256 only (an `alg: none` or RS256 token is
 * refused), with `sub` and `exp` required. `sub` is opaque and used verbatim, so it
 * must be text Postgres can store (no NUL, no lone surrogate: `"\ud800"` and
 * `"\udc00"` would otherwise both become U+FFFD and share one wallet): 422 otherwise.
 * `exp` must lie within `maxLifetimeS` of now, so a leaked `exp: 1e300` token is not
 * good forever.
 */
export function verifyBearer(
  header: string | undefined,
  secret: string,
  maxLifetimeS = DEFAULT_MAX_TOKEN_LIFETIME_S,
): Caller {
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
  if (claims.exp - Date.now() / 1000 > maxLifetimeS) {
    throw httpError("unauthorized", `token \`exp\` is more than ${maxLifetimeS} s away`);
  }
  return { userId: claims.sub, isAdmin: claims.role === "admin" };
}

/** Authenticates and provisions the user on first sight (one idempotent insert, cached per process). */
export function requireUser(db: Db, secret: string, maxLifetimeS?: number) {
  const known = new Set<string>();
  return async (ctx: Context, next: Next) => {
    const caller = verifyBearer(ctx.get("authorization") || undefined, secret, maxLifetimeS);
    if (!known.has(caller.userId)) {
      await ensureUser(db, caller.userId);
      if (known.size > 100_000) known.clear();
      known.add(caller.userId);
    }
    ctx.state.caller = caller;
    ctx.state.log = ctx.state.log.child({ user_id: caller.userId });
    await next();
  };
}

export function requireAdmin(secret: string, maxLifetimeS?: number) {
  return async (ctx: Context, next: Next) => {
    const caller = verifyBearer(ctx.get("authorization") || undefined, secret, maxLifetimeS);
    if (!caller.isAdmin) throw httpError("forbidden", "admin role required");
    ctx.state.caller = caller;
    ctx.state.log = ctx.state.log.child({ actor: caller.userId });
    await next();
  };
}

export const callerOf = (ctx: Context): Caller => ctx.state.caller as Caller;
