import type { Context, Next } from "koa";
import { isStorableText } from "../db/storable.js";
import { httpError } from "./errors.js";

/** Bull Board's own UI and API: its query strings are its business, not the JSON API's. */
const BOARD = /^\/admin\/queues(\/|$)/;

/**
 * One check at the edge for the path and query string of every route: text Postgres cannot
 * store (a NUL; a lone surrogate cannot arrive through percent-encoding, which decodes invalid
 * UTF-8 to U+FFFD) is 422 `invalid_text` before any route runs a query with it. A query
 * parameter given twice (`account=available&account=held`) is 422 `query_param_repeated`:
 * the routes read one value, and silently taking one of two would drop a filter.
 * Bodies are checked where they are parsed (readJsonBody) and tokens in verifyBearer.
 */
export async function refuseHostileInput(ctx: Context, next: Next): Promise<void> {
  let path = ctx.path;
  try {
    path = decodeURIComponent(ctx.path);
  } catch {
    // Not decodable: the router leaves such a segment encoded too, and encoded text is storable.
  }
  if (!isStorableText(path)) throw httpError("invalid_text", "the path holds text that cannot be stored");
  for (const [name, value] of Object.entries(ctx.query)) {
    if (!isStorableText(name))
      throw httpError("invalid_text", "a query parameter name holds text that cannot be stored");
    if (Array.isArray(value)) {
      if (BOARD.test(ctx.path)) continue;
      throw httpError("query_param_repeated", `query parameter ${name} is given more than once`, {
        param: name,
      });
    }
    if (value !== undefined && !isStorableText(value))
      throw httpError("invalid_text", `${name} holds text that cannot be stored`, { param: name });
  }
  await next();
}
