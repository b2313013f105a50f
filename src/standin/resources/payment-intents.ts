import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { MAX_CHARGE_MINOR, formatMinor, parseCurrency } from "../currencies.js";
import { paramError, unexpectedState } from "../errors.js";
import { toJson } from "../expand.js";
import { newId, nowSeconds, randomBase62 } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { resolvePaymentMethod } from "../payment-methods.js";
import { automaticMethodTypes } from "./bank-debit-flow.js";
import {
  capturePaymentIntentRoute,
  confirmPaymentIntent,
  confirmPaymentIntentRoute,
} from "./payment-intent-flow.js";

const CREATE_PARAMS = [
  "amount",
  "currency",
  "metadata",
  "capture_method",
  "payment_method_types",
  "allowed_payment_method_types",
  "automatic_payment_methods",
  "description",
  "confirm",
  "payment_method",
  "customer",
  "receipt_email",
  "statement_descriptor",
  "statement_descriptor_suffix",
  "transfer_group",
  "setup_future_usage",
  "return_url",
  "off_session",
  "expand",
] as const;

const CANCELLABLE: readonly Stripe.PaymentIntent.Status[] = [
  "requires_payment_method",
  "requires_capture",
  "requires_confirmation",
  "requires_action",
  "processing",
];

/** Stripe's amount rules: a positive integer, at least the currency's minimum charge, at most 99 999 999. */
function parseAmount(ctx: ApiContext, currency: ReturnType<typeof parseCurrency>): number {
  const amount = p.optInt(ctx.params, "amount");
  if (amount === undefined)
    throw paramError("Missing required param: amount.", "amount", "parameter_missing");
  if (amount < 1) {
    throw paramError("This value must be greater than or equal to 1.", "amount", "parameter_invalid_integer");
  }
  if (amount < currency.minChargeMinor) {
    const min = formatMinor(currency.minChargeMinor, currency.exponent);
    throw paramError(`Amount must be at least ${min} ${currency.code}`, "amount", "amount_too_small");
  }
  if (amount > MAX_CHARGE_MINOR) {
    const max = formatMinor(MAX_CHARGE_MINOR, currency.exponent);
    throw paramError(`Amount must be no more than ${max} ${currency.code}`, "amount", "amount_too_large");
  }
  return amount;
}

type MethodSettings = Pick<
  Stripe.PaymentIntent,
  "automatic_payment_methods" | "payment_method_types" | "allowed_payment_method_types"
>;

/**
 * Which payment methods the intent takes. stripe 23.1.0's API version names the list
 * `allowed_payment_method_types` (and still answers with `payment_method_types`); the older
 * `payment_method_types` param is taken too, for clients on older versions.
 */
function paymentMethodSettings(ctx: ApiContext, currency: string, captureMethod: string): MethodSettings {
  const allowed = p.optStringArray(ctx.params, "allowed_payment_method_types");
  const types = allowed ?? p.optStringArray(ctx.params, "payment_method_types");
  const automatic = p.optObject(ctx.params, "automatic_payment_methods");
  if (types && automatic) {
    const given = allowed ? "allowed_payment_method_types" : "payment_method_types";
    const message = `You may only specify one of these parameters: automatic_payment_methods, ${given}.`;
    throw paramError(message, "automatic_payment_methods");
  }
  if (types) {
    return {
      automatic_payment_methods: null,
      payment_method_types: types,
      allowed_payment_method_types: allowed ?? null,
    };
  }
  const enabled = automatic ? (p.optBool(automatic, "enabled") ?? false) : true;
  // Without either param Stripe now enables automatic payment methods, bank debits among them.
  return enabled
    ? {
        automatic_payment_methods: { enabled: true },
        payment_method_types: automaticMethodTypes(currency, captureMethod),
        allowed_payment_method_types: null,
      }
    : { automatic_payment_methods: null, payment_method_types: ["card"], allowed_payment_method_types: null };
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, CREATE_PARAMS);
  const currency = parseCurrency(p.reqString(ctx.params, "currency"));
  const amount = parseAmount(ctx, currency);
  const paymentMethod = p.optString(ctx.params, "payment_method");
  if (paymentMethod !== undefined) resolvePaymentMethod(paymentMethod);
  const captureMethod =
    p.optEnum(ctx.params, "capture_method", ["automatic", "automatic_async", "manual"]) ?? "automatic";
  const id = newId("pi");
  const pi: Stripe.PaymentIntent = {
    id,
    object: "payment_intent",
    amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    ...paymentMethodSettings(ctx, currency.code, captureMethod),
    canceled_at: null,
    cancellation_reason: null,
    capture_method: captureMethod,
    client_secret: `${id}_secret_${randomBase62(25)}`,
    confirmation_method: "automatic",
    created: nowSeconds(),
    currency: currency.code,
    customer: p.optString(ctx.params, "customer") ?? null,
    customer_account: null,
    description: p.optString(ctx.params, "description") ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: p.applyMetadata({}, ctx.params),
    next_action: null,
    on_behalf_of: null,
    payment_method: paymentMethod ?? null,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_record: null,
    processing: null,
    receipt_email: p.optString(ctx.params, "receipt_email") ?? null,
    review: null,
    setup_future_usage: p.optEnum(ctx.params, "setup_future_usage", ["on_session", "off_session"]) ?? null,
    shipping: null,
    source: null,
    statement_descriptor: p.optString(ctx.params, "statement_descriptor") ?? null,
    statement_descriptor_suffix: p.optString(ctx.params, "statement_descriptor_suffix") ?? null,
    status: paymentMethod === undefined ? "requires_payment_method" : "requires_confirmation",
    transfer_data: null,
    transfer_group: p.optString(ctx.params, "transfer_group") ?? null,
  };
  const confirm = p.optBool(ctx.params, "confirm") ?? false;
  ctx.store.insert(ctx.scope, "payment_intent", pi);
  ctx.emit("payment_intent.created", pi);
  return confirm ? confirmPaymentIntent(ctx, pi, paymentMethod) : pi;
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand", "client_secret"]);
  return ctx.store.require(ctx.scope, "payment_intent", pathParam(ctx, "id"));
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "created", "customer"]);
  const created = rangeFilter(ctx.params, "created");
  const customer = p.optString(ctx.params, "customer");
  const items = ctx.store.sequence(ctx.scope, "payment_intent");
  return paginate(
    items,
    ctx.params,
    "/v1/payment_intents",
    "payment_intent",
    (pi) => created(pi.created) && (customer === undefined || pi.customer === customer),
  );
}

function cancel(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["cancellation_reason", "expand"]);
  const pi = ctx.store.require(ctx.scope, "payment_intent", pathParam(ctx, "id"));
  const reason = p.optEnum(ctx.params, "cancellation_reason", [
    "duplicate",
    "fraudulent",
    "requested_by_customer",
    "abandoned",
  ]);
  if (!CANCELLABLE.includes(pi.status)) {
    const message =
      `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent ` +
      `with one of the following statuses may be canceled: ${CANCELLABLE.join(", ")}.`;
    throw unexpectedState(message, { payment_intent: toJson(pi) });
  }
  // Releasing an authorization is not modelled: the uncaptured charge stays as it was.
  pi.status = "canceled";
  pi.canceled_at = nowSeconds();
  pi.cancellation_reason = reason ?? null;
  pi.amount_capturable = 0;
  ctx.emit("payment_intent.canceled", pi);
  return pi;
}

export const paymentIntentRoutes: Route[] = [
  { method: "POST", path: "/v1/payment_intents", handler: create },
  { method: "GET", path: "/v1/payment_intents", handler: list },
  { method: "GET", path: "/v1/payment_intents/:id", handler: retrieve },
  { method: "POST", path: "/v1/payment_intents/:id/confirm", handler: confirmPaymentIntentRoute },
  { method: "POST", path: "/v1/payment_intents/:id/capture", handler: capturePaymentIntentRoute },
  { method: "POST", path: "/v1/payment_intents/:id/cancel", handler: cancel },
];
