import type { Context } from "koa";

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export const isStateChanging = (method: string): boolean => STATE_CHANGING.has(method);

/**
 * Why a state-changing browser request comes from another site, or null when it does not.
 * The board's cookie is SameSite=Strict already; this is the second lock, for browsers or
 * proxies that drop SameSite, and for a page on a sibling origin of the same site.
 *
 * A browser names the page that sent a request: `Origin` (every cross-origin request and
 * every POST), else `Sec-Fetch-Site`, else `Referer`. Each must name this server: the
 * request's own origin (scheme and Host), or `publicUrl`'s when a proxy terminates TLS or
 * rewrites Host. A request that names nothing is not a browser's cross-site request (curl,
 * scripts with a bearer token), so it passes; `Origin: null` (a sandboxed or opaque page)
 * is foreign.
 */
export function crossSiteReason(ctx: Context, publicUrl?: string): string | null {
  const own = new Set([`${ctx.protocol}://${ctx.host}`]);
  if (publicUrl) own.add(new URL(publicUrl).origin);
  const origin = ctx.get("origin");
  if (origin) return own.has(origin) ? null : "its Origin is not this server";
  const site = ctx.get("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return `Sec-Fetch-Site is ${site}`;
  const referer = ctx.get("referer");
  if (referer && !own.has(originOf(referer))) return "its Referer is not this server";
  return null;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "invalid";
  }
}
