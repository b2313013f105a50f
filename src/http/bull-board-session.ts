import jwt from "jsonwebtoken";
import type { Context } from "koa";
import type { Config } from "../config.js";
import { DomainError } from "../ledger/errors.js";
import { identify, verifyBearer, type Caller } from "./auth.js";
import { readRawBody } from "./body.js";
import { httpError } from "./errors.js";

export const BULL_BOARD_PATH = "/admin/queues";
/** Browsers cannot add an Authorization header to page loads, so an admin token may come as this cookie. */
export const ADMIN_COOKIE = "coffer_admin_token";
export const LOGIN_PATH = `${BULL_BOARD_PATH}/login`;
export const LOGOUT_PATH = `${BULL_BOARD_PATH}/logout`;

/**
 * The admin behind a board request: the Authorization header, else the board's cookie. The same
 * lifetime and clock-skew bounds as the API's admin routes, so a token is good on both or neither.
 */
export function boardCaller(ctx: Context, config: Config): Caller {
  const cookie = ctx.cookies.get(ADMIN_COOKIE);
  const header = ctx.get("authorization") || (cookie ? `Bearer ${cookie}` : undefined);
  const caller = verifyBearer(header, config);
  identify(ctx, caller); // before the role check, as for the API's admin routes
  if (!caller.isAdmin) throw httpError("forbidden", "admin role required");
  return caller;
}

/**
 * The admin behind a board request, or, for a browser loading one of the board's pages with no
 * cookie or a token that no longer verifies (expired), null: it is sent to the login page
 * instead of a JSON 401. A valid token without the admin role is still 403.
 */
export function boardCallerOrLogin(ctx: Context, config: Config): Caller | null {
  try {
    return boardCaller(ctx, config);
  } catch (err) {
    const pageLoad =
      ctx.method === "GET" &&
      !ctx.path.startsWith(`${BULL_BOARD_PATH}/api/`) &&
      ctx.get("accept").includes("text/html");
    if (pageLoad && err instanceof DomainError && err.code === "unauthorized") return null;
    throw err;
  }
}

/**
 * The session routes: `GET /admin/queues/login` is a form for an admin token,
 * `POST /admin/queues/login` turns a valid admin token into the board's cookie, and
 * `POST /admin/queues/logout` clears it. Returns false for any other path.
 */
export async function sessionRoutes(ctx: Context, config: Config, secure: boolean): Promise<boolean> {
  if (ctx.path === LOGIN_PATH && ctx.method === "GET") {
    ctx.type = "html";
    ctx.body = LOGIN_PAGE;
    return true;
  }
  if (ctx.path === LOGIN_PATH && ctx.method === "POST") {
    const token = await readToken(ctx);
    const caller = verifyBearer(`Bearer ${token}`, config);
    if (!caller.isAdmin) throw httpError("forbidden", "admin role required");
    const { exp } = jwt.decode(token) as { exp: number };
    const maxAgeS = Math.max(0, Math.floor(exp - Date.now() / 1000));
    ctx.append("Set-Cookie", adminCookie(token, maxAgeS, secure));
    ctx.state.log.info({ actor: caller.userId }, "bull board session opened");
    ctx.redirect(BULL_BOARD_PATH);
    ctx.status = 303;
    return true;
  }
  if (ctx.path === LOGOUT_PATH && ctx.method === "POST") {
    ctx.append("Set-Cookie", adminCookie("", 0, secure));
    ctx.redirect(LOGIN_PATH);
    ctx.status = 303;
    return true;
  }
  return false;
}

/**
 * The cookie holds a bearer token, so script may never read it (HttpOnly), no other site's
 * page may make the browser send it (SameSite=Strict), only the board's paths receive it
 * (Path), and it lives no longer than the token. Secure whenever the board is served over
 * https. Written by hand: Koa's cookies refuse `secure` behind a TLS-terminating proxy.
 */
export function adminCookie(token: string, maxAgeS: number, secure: boolean): string {
  return [
    `${ADMIN_COOKIE}=${token}`,
    `Path=${BULL_BOARD_PATH}`,
    `Max-Age=${maxAgeS}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

/** The token from the login form (urlencoded) or a JSON body `{token}`; at most 8 KiB. */
async function readToken(ctx: Context): Promise<string> {
  const raw = (await readRawBody(ctx, 8 * 1024, 10_000)).toString("utf8");
  let token: unknown;
  if (ctx.is("application/x-www-form-urlencoded")) token = new URLSearchParams(raw).get("token");
  else if (ctx.is("application/json")) {
    try {
      token = (JSON.parse(raw) as { token?: unknown }).token;
    } catch {
      throw httpError("malformed_json", "request body is not valid JSON");
    }
  } else throw httpError("unsupported_media_type", "send the login form or application/json");
  if (typeof token !== "string" || token.trim() === "")
    throw httpError("field_required", "token is required", { param: "token" });
  return token.trim();
}

/** No script and no inline style: the board's CSP allows neither from anywhere but itself. */
const LOGIN_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Coffer · Bull Board sign-in</title></head>
<body>
<h1>Bull Board</h1>
<form method="post" action="${LOGIN_PATH}">
<p><label for="token">Admin token</label></p>
<p><textarea id="token" name="token" rows="6" cols="80" required autocomplete="off"></textarea></p>
<p><button type="submit">Open the board</button></p>
</form>
<p>A token with <code>role=admin</code>, signed with <code>AUTH_JWT_SECRET</code>:
on a developer machine, <code>npm run -s token -- &lt;your name&gt; admin</code>.
It is kept in an HttpOnly cookie for this path until the token expires.</p>
</body>
</html>
`;
