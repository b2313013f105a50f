import type { Context } from "koa";
import { findUnstorableText } from "../db/storable.js";
import type { DomainError } from "../ledger/errors.js";
import { httpError } from "./errors.js";

/**
 * Reads the raw request body up to `limitBytes`. Webhook verification needs
 * the exact bytes, so no JSON body parser runs before it. A declared or actual
 * size over the limit answers 413 without reading the rest. With `deadlineMs`,
 * a body that has not fully arrived by then is cut (400 `body_timeout`), so a
 * slow client cannot hold the connection. A client that goes away mid-body is
 * its own outcome (`client_aborted`): the client's doing, not a dependency down.
 */
export async function readRawBody(ctx: Context, limitBytes: number, deadlineMs?: number): Promise<Buffer> {
  const declared = Number(ctx.get("content-length") || "0");
  if (declared > limitBytes) throw httpError("body_too_large", `body exceeds ${limitBytes} bytes`);
  const req = ctx.req;
  if (req.readableEnded) return Buffer.alloc(0);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: DomainError | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off("data", onData).off("end", onEnd).off("error", onGone).off("close", onGone);
      // A client gone mid-body may still make the request emit an error (the parser's): it is
      // answered already, and must not reach Koa's default handler, which prints it to stderr.
      req.on("error", () => undefined);
      if (err) {
        // Stop reading; the connection closes after the answer rather than draining the rest.
        req.pause();
        ctx.set("Connection", "close");
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (buf: Buffer) => {
      size += buf.length;
      if (size > limitBytes) finish(httpError("body_too_large", `body exceeds ${limitBytes} bytes`));
      else chunks.push(buf);
    };
    const onEnd = () => finish(null);
    const onGone = () =>
      finish(httpError("client_aborted", "the client closed the connection before the body arrived"));
    const timer =
      deadlineMs === undefined
        ? undefined
        : setTimeout(
            () => finish(httpError("body_timeout", `the body did not arrive within ${deadlineMs} ms`)),
            deadlineMs,
          );
    req.on("data", onData).on("end", onEnd).on("error", onGone).on("close", onGone);
  });
}

/** JSON API bodies are small; anything else is refused before parsing. */
export async function readJsonBody(ctx: Context, limitBytes = 16 * 1024): Promise<unknown> {
  const raw = await readRawBody(ctx, limitBytes, JSON_BODY_DEADLINE_MS);
  if (raw.length === 0) return {};
  if (!ctx.is("application/json")) throw httpError("unsupported_media_type", "send application/json");
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    throw httpError("malformed_json", "request body is not valid JSON");
  }
  // One check for every JSON route: a string Postgres cannot store never reaches a query.
  const bad = findUnstorableText(body);
  if (bad !== null)
    throw httpError("invalid_text", `${bad} holds text that cannot be stored (NUL or a lone surrogate)`, {
      param: bad,
    });
  return body;
}

/** 16 KiB of JSON arrives in milliseconds; ten seconds is for the slowest honest phone. */
const JSON_BODY_DEADLINE_MS = 10_000;
