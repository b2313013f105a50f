import type { Context, Next } from "koa";
import { formatMinor, isKnownCurrency } from "../money/currencies.js";
import { httpError } from "./errors.js";

/**
 * `?include=legacy_amounts`: the deprecated decimal fields old clients read (SPEC → Money). The
 * legacy API sent float amounts; Coffer sends integers of minor units, and on request adds beside
 * each `x_minor` a decimal string `x` (`available_minor: 1234` usd → `available: "12.34"`), made
 * from the minor units by the currency's exponent (formatMinor, BigInt), never through a float.
 * Such answers carry `Deprecation` (RFC 9745) and `Sunset` (RFC 8594). Without the parameter
 * nothing changes.
 */
export const LEGACY_INCLUDE = "legacy_amounts";
/** 2026-12-01T00:00:00Z, when the fields were deprecated (RFC 9745's `@` + unix seconds). */
export const LEGACY_DEPRECATION = "@1796083200";
export const LEGACY_SUNSET = "Wed, 30 Jun 2027 00:00:00 GMT";

/** The wallet, top-up and withdrawal routes: the representations old clients read amounts from. */
const LEGACY_ROUTES = [
  /^\/v1\/wallet$/,
  /^\/v1\/wallet\/top-ups(\/[^/]+)?$/,
  /^\/v1\/withdrawals(\/[^/]+(\/cancel)?)?$/,
];
/** Marks the tag of the decimal representation, so it never matches the plain one's. */
const ETAG_SUFFIX = ".legacy";

export async function legacyAmounts(ctx: Context, next: Next): Promise<void> {
  if (!("include" in ctx.query) || !LEGACY_ROUTES.some((r) => r.test(ctx.path))) return next();
  if (ctx.query.include !== LEGACY_INCLUDE)
    throw httpError("invalid_field", `include must be ${LEGACY_INCLUDE}`, { param: "include" });
  // The routes validate their own query strictly, and this parameter is not theirs.
  const query = { ...ctx.query };
  delete query.include;
  ctx.query = query;
  if (ctx.get("if-none-match")) ctx.req.headers["if-none-match"] = plainTags(ctx.get("if-none-match"));
  await next();
  if (ctx.status >= 400) return;
  const etag = ctx.response.get("ETag");
  if (etag) ctx.set("ETag", `${etag.slice(0, -1)}${ETAG_SUFFIX}"`);
  if (isPlainObject(ctx.body)) ctx.body = addDecimals(ctx.body);
  ctx.set("Deprecation", LEGACY_DEPRECATION);
  ctx.set("Sunset", LEGACY_SUNSET);
}

/**
 * If-None-Match as the route knows its tags: a legacy tag back to the plain one it came from,
 * and a plain tag dropped, since that representation is not the one asked for (no false 304).
 */
function plainTags(header: string): string {
  if (header.trim() === "*") return header;
  return header
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.endsWith(`${ETAG_SUFFIX}"`))
    .map((t) => `${t.slice(0, -ETAG_SUFFIX.length - 1)}"`)
    .join(", ");
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** The body itself (a top-up, a withdrawal), a wallet's balances, or a list's data. */
function addDecimals(body: Record<string, unknown>): Record<string, unknown> {
  const out = withDecimals(body);
  for (const key of ["balances", "data"])
    if (Array.isArray(out[key]))
      out[key] = (out[key] as unknown[]).map((x) => (isPlainObject(x) ? withDecimals(x) : x));
  return out;
}

/** Each integer `x_minor` of an object with a known currency gets `x` right after it. */
function withDecimals(obj: Record<string, unknown>): Record<string, unknown> {
  const currency = obj.currency;
  if (!isKnownCurrency(currency)) return obj;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    out[key] = value;
    if (key.endsWith("_minor") && Number.isSafeInteger(value))
      out[key.slice(0, -"_minor".length)] = formatMinor(value as number, currency);
  }
  return out;
}
