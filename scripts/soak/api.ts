import jwt from "jsonwebtoken";
import { sleep } from "./random.js";

/**
 * Coffer's public API as a patient client uses it while the system is under faults: a request
 * that gets no answer (a web restart), a 5xx (Postgres or Stripe away), a 429, or a 409 saying
 * the same Idempotency-Key is still in flight (a request cut off mid-way holds its key for a
 * minute) is sent again, unchanged, until it gets an answer it can act on or `deadlineMs` runs
 * out. Only requests that are safe to repeat (an Idempotency-Key, or a state change that is
 * idempotent by state) go through `call`.
 */
export interface ApiReply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are read field by field
  body: any;
}

export interface ApiClient {
  call(
    method: string,
    path: string,
    o?: { user?: string; admin?: boolean; body?: unknown; idempotencyKey?: string; deadlineMs?: number },
  ): Promise<ApiReply>;
  /** Requests sent again, by the reason. */
  readonly retried: Record<string, number>;
}

const ADMIN = "soak-admin";

export function apiClient(baseUrl: () => string, jwtSecret: string): ApiClient {
  const tokens = new Map<string, { token: string; until: number }>();
  const token = (user: string, admin: boolean) => {
    const key = `${admin ? "admin:" : ""}${user}`;
    const hit = tokens.get(key);
    if (hit && hit.until > Date.now()) return hit.token;
    const t = jwt.sign(admin ? { role: "admin" } : {}, jwtSecret, {
      algorithm: "HS256",
      subject: user,
      expiresIn: 3600,
    });
    tokens.set(key, { token: t, until: Date.now() + 50 * 60_000 });
    return t;
  };
  const retried: Record<string, number> = {};
  const again = (why: string) => (retried[why] = (retried[why] ?? 0) + 1);

  return {
    retried,
    async call(method, path, o = {}) {
      const deadline = Date.now() + (o.deadlineMs ?? 240_000);
      const user = o.admin ? ADMIN : o.user;
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) await sleep(Math.min(250 * 2 ** Math.min(attempt, 5), 5_000));
        let why: string;
        try {
          const res = await fetch(`${baseUrl()}${path}`, {
            method,
            headers: {
              ...(user && { authorization: `Bearer ${token(user, !!o.admin)}` }),
              ...(o.body !== undefined && { "content-type": "application/json" }),
              ...(o.idempotencyKey && { "idempotency-key": o.idempotencyKey }),
            },
            ...(o.body !== undefined && { body: JSON.stringify(o.body) }),
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          const body: unknown = text ? JSON.parse(text) : undefined;
          const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
          const retryable =
            res.status >= 500 || res.status === 429 || code === "idempotency_request_in_flight";
          if (!retryable) return { status: res.status, body };
          why = `${res.status}${code ? ` ${code}` : ""}`;
          const after = Number(res.headers.get("retry-after"));
          if (Number.isFinite(after) && after > 0) await sleep(Math.min(after, 10) * 1000);
        } catch (err) {
          why = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        }
        again(why);
        if (Date.now() > deadline)
          throw new Error(`${method} ${path}: no usable answer before the deadline (${why})`);
      }
    },
  };
}
