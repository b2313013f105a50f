/* eslint-disable @typescript-eslint/no-explicit-any -- test client: bodies are asserted field by field */
import { controlCall } from "../../src/standin/client.js";
import { bearer } from "./tokens.js";

/** Thin JSON client for the wallet API, over real HTTP. */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  opts: {
    user?: string;
    role?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = {
    ...(opts.user ? bearer(opts.user, opts.role ? { role: opts.role } : {}) : {}),
    ...opts.headers,
  };
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] = "application/json";
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined && { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* leave as text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function wallet(baseUrl: string, user: string, currency = "usd") {
  const r = await api(baseUrl, "GET", "/v1/wallet", { user });
  const b = (r.body.balances as Array<Record<string, number | string>>).find((x) => x.currency === currency);
  return {
    available: Number(b?.available_minor ?? 0),
    pending: Number(b?.pending_minor ?? 0),
    held: Number(b?.held_minor ?? 0),
  };
}

export async function topUp(
  baseUrl: string,
  user: string,
  amountMinor: number,
  currency = "usd",
  key = `k-${Math.random()}`,
) {
  return api(baseUrl, "POST", "/v1/wallet/top-ups", {
    user,
    body: { amount_minor: amountMinor, currency },
    headers: { "idempotency-key": key },
  });
}

/**
 * A top-up from a well-behaved client: while Coffer's Stripe budget is spent (503
 * `stripe_rate_limited`), it waits Retry-After and asks again with the same key.
 */
export async function topUpPatiently(...args: Parameters<typeof topUp>) {
  for (;;) {
    const res = await topUp(...args);
    if (res.status !== 503 || res.body.error?.code !== "stripe_rate_limited") return res;
    await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? 1) * 1000));
  }
}

/** The customer's browser confirming the PaymentIntent, done through the stand-in's control endpoint. */
export async function pay(standinUrl: string, piId: string, paymentMethod?: string) {
  return controlCall<any>(
    standinUrl,
    `/payment_intents/${piId}/pay`,
    paymentMethod ? { payment_method: paymentMethod } : {},
  );
}
