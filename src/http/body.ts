import type { Context } from "koa";
import { httpError } from "./errors.js";

/**
 * Reads the raw request body up to `limitBytes`. Webhook verification needs
 * the exact bytes, so no JSON body parser runs before it. A declared or actual
 * size over the limit answers 413 without reading the rest.
 */
export async function readRawBody(ctx: Context, limitBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get("content-length") || "0");
  if (declared > limitBytes) throw httpError("body_too_large", `body exceeds ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limitBytes) {
      // Stop reading; the connection closes after the 413 rather than draining an attacker's upload.
      ctx.set("Connection", "close");
      throw httpError("body_too_large", `body exceeds ${limitBytes} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/** JSON API bodies are small; anything else is refused before parsing. */
export async function readJsonBody(ctx: Context, limitBytes = 16 * 1024): Promise<unknown> {
  const raw = await readRawBody(ctx, limitBytes);
  if (raw.length === 0) return {};
  if (!ctx.is("application/json")) throw httpError("unsupported_media_type", "send application/json");
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    throw httpError("malformed_json", "request body is not valid JSON");
  }
}
