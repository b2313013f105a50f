import { z } from "zod";
import { createContext } from "./context.js";
import { StripeApiError, errorPayload } from "./errors.js";
import { faultSpecSchema } from "./faults.js";
import { newId } from "./ids.js";
import { handleLifecycleControl } from "./resources/lifecycle-controls.js";
import { confirmPaymentIntent } from "./resources/payment-intent-flow.js";
import { handleReconciliationControl } from "./resources/reconciliation-controls.js";
import type { Runtime } from "./runtime.js";
import { PLATFORM } from "./state.js";

export interface ControlReply {
  status: number;
  body: unknown;
}

const webhookSchema = z.strictObject({
  url: z.url().nullish(),
  secret: z.string().min(1).optional(),
  connect_secret: z.string().min(1).optional(),
});
const paySchema = z.strictObject({ payment_method: z.string().min(1).optional() });

/**
 * The customer's side of a payment, which Coffer never does itself: the browser confirms the
 * PaymentIntent with its client secret. Acts in whichever account holds the intent.
 */
export function payPaymentIntent(rt: Runtime, id: string, paymentMethod: string | undefined): ControlReply {
  const scope = rt.store.scopeOf(id) ?? PLATFORM;
  const ctx = createContext(rt, {
    pathParams: { id },
    params: {},
    account: scope === PLATFORM ? undefined : scope,
    requestId: newId("req"),
    idempotencyKey: undefined,
  });
  try {
    const pi = ctx.store.require(ctx.scope, "payment_intent", id);
    const pm = paymentMethod ?? (typeof pi.payment_method === "string" ? undefined : "pm_card_visa");
    return { status: 200, body: confirmPaymentIntent(ctx, pi, pm) };
  } catch (err) {
    if (err instanceof StripeApiError) return { status: err.status, body: errorPayload(err) };
    throw err;
  }
}

type Parsed<T> = { ok: true; data: T } | { ok: false; reply: ControlReply };

function parseBody<T>(schema: z.ZodType<T>, raw: string): Parsed<T> {
  let json: unknown;
  try {
    json = raw.trim() === "" ? {} : JSON.parse(raw);
  } catch {
    return { ok: false, reply: { status: 400, body: { error: { message: "Body must be JSON" } } } };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, reply: { status: 400, body: { error: { message: z.prettifyError(result.error) } } } };
}

/** `/_standin/*`: test controls for other processes and the offline demo. No auth, JSON in and out. */
export function handleControl(rt: Runtime, method: string, path: string, rawBody: string): ControlReply {
  const route = `${method} ${path}`;
  rt.funds.settleDue();
  const pay = /^POST \/_standin\/payment_intents\/([^/]+)\/pay$/.exec(route);
  if (pay?.[1] !== undefined) {
    const body = parseBody(paySchema, rawBody);
    return body.ok ? payPaymentIntent(rt, decodeURIComponent(pay[1]), body.data.payment_method) : body.reply;
  }
  const matched =
    handleLifecycleControl(rt, route, rawBody, parseBody) ??
    handleReconciliationControl(rt, route, rawBody, parseBody);
  if (matched) return matched;
  switch (route) {
    case "POST /_standin/faults": {
      const body = parseBody(faultSpecSchema, rawBody);
      if (!body.ok) return body.reply;
      rt.faults.inject(body.data);
      return { status: 200, body: { ok: true } };
    }
    case "DELETE /_standin/faults":
      rt.faults.clear();
      return { status: 200, body: { ok: true } };
    case "GET /_standin/requests":
      return { status: 200, body: rt.requestLog };
    case "POST /_standin/webhook": {
      const body = parseBody(webhookSchema, rawBody);
      if (!body.ok) return body.reply;
      rt.setWebhook(body.data.url ?? undefined, body.data.secret, body.data.connect_secret);
      return { status: 200, body: { ok: true } };
    }
    case "POST /_standin/balance/settle":
      return { status: 200, body: { settled: rt.funds.settleAll() } };
    case "POST /_standin/idempotency/expire":
      rt.idempotency.expire();
      return { status: 200, body: { ok: true } };
    default:
      return { status: 404, body: { error: { message: `No stand-in control ${route}` } } };
  }
}
