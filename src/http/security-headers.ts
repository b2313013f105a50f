import type { Context, Next } from "koa";

/** The JSON API is never a document: it loads nothing and is framed by nobody. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Bull Board's page: its scripts and styles come from itself (its UI config is a JSON
 * `<script>`, which CSP does not execute), its fonts from Google Fonts, and it talks to its
 * own API only. Nothing may frame it, so its buttons cannot be clickjacked.
 */
const BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' https://fonts.gstatic.com",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Set first, so every answer carries them, errors and Bull Board's HTML included. */
export async function securityHeaders(ctx: Context, next: Next): Promise<void> {
  ctx.set("X-Content-Type-Options", "nosniff");
  ctx.set("Referrer-Policy", "no-referrer");
  ctx.set("X-Frame-Options", "DENY");
  const board = ctx.path === "/admin/queues" || ctx.path.startsWith("/admin/queues/");
  ctx.set("Content-Security-Policy", board ? BOARD_CSP : API_CSP);
  await next();
}
