import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { paramError } from "../errors.js";
import { newId, nowSeconds, randomBase62 } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { resolveBillingCard } from "./billing-cards.js";
import { cancelSetupIntent, confirmSetupIntent } from "./setup-intent-flow.js";

declare module "../state.js" {
  interface ObjectTypes {
    setup_intent: Stripe.SetupIntent;
  }
}

const CREATE_PARAMS = [
  "customer",
  "usage",
  "metadata",
  "payment_method_types",
  "allowed_payment_method_types",
  "automatic_payment_methods",
  "description",
  "confirm",
  "payment_method",
  "return_url",
  "expand",
] as const;

/**
 * Cards only: the stand-in saves no other payment method types for later. stripe 23.1.0 names the
 * list `allowed_payment_method_types` (answering with `payment_method_types` too); the older
 * `payment_method_types` is taken for clients on older versions, as for PaymentIntents.
 */
function methodTypes(
  ctx: ApiContext,
): Pick<
  Stripe.SetupIntent,
  "payment_method_types" | "allowed_payment_method_types" | "automatic_payment_methods"
> {
  const allowed = p.optStringArray(ctx.params, "allowed_payment_method_types");
  const types = allowed ?? p.optStringArray(ctx.params, "payment_method_types");
  const automatic = p.optObject(ctx.params, "automatic_payment_methods");
  const given = allowed ? "allowed_payment_method_types" : "payment_method_types";
  if (types && automatic) {
    const message = `You may only specify one of these parameters: automatic_payment_methods, ${given}.`;
    throw paramError(message, "automatic_payment_methods");
  }
  if (types) {
    const unsupported = types.find((t) => t !== "card");
    if (unsupported !== undefined) {
      throw paramError(`Stand-in: payment method type ${unsupported} is not supported for setup.`, given);
    }
    return {
      payment_method_types: types,
      allowed_payment_method_types:
        (allowed as Stripe.SetupIntent.AllowedPaymentMethodType[] | undefined) ?? null,
      automatic_payment_methods: null,
    };
  }
  return {
    payment_method_types: ["card"],
    allowed_payment_method_types: null,
    automatic_payment_methods: { allow_redirects: "always", enabled: true },
  };
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, CREATE_PARAMS);
  const customerId = p.optString(ctx.params, "customer");
  if (customerId !== undefined) ctx.store.require(ctx.scope, "customer", customerId, "customer");
  const paymentMethod = p.optString(ctx.params, "payment_method");
  if (paymentMethod !== undefined) resolveBillingCard(ctx, paymentMethod);
  const id = newId("seti");
  const si: Stripe.SetupIntent = {
    id,
    object: "setup_intent",
    application: null,
    cancellation_reason: null,
    client_secret: `${id}_secret_${randomBase62(32)}`,
    created: nowSeconds(),
    customer: customerId ?? null,
    description: p.optString(ctx.params, "description") ?? null,
    excluded_payment_method_types: null,
    flow_directions: null,
    last_setup_error: null,
    latest_attempt: null,
    livemode: false,
    mandate: null,
    metadata: p.applyMetadata({}, ctx.params),
    next_action: null,
    on_behalf_of: null,
    payment_method: paymentMethod ?? null,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { mandate_options: null, network: null, request_three_d_secure: "automatic" },
    },
    single_use_mandate: null,
    status: paymentMethod === undefined ? "requires_payment_method" : "requires_confirmation",
    usage: p.optEnum(ctx.params, "usage", ["off_session", "on_session"]) ?? "off_session",
    ...methodTypes(ctx),
  };
  ctx.store.insert(ctx.scope, "setup_intent", si);
  ctx.emit("setup_intent.created", si);
  if (p.optBool(ctx.params, "confirm") === true) return confirmSetupIntent(ctx, si, undefined);
  return si;
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand", "client_secret"]);
  return ctx.store.require(ctx.scope, "setup_intent", pathParam(ctx, "id"));
}

function confirm(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["payment_method", "return_url", "expand", "use_stripe_sdk", "client_secret"]);
  const si = ctx.store.require(ctx.scope, "setup_intent", pathParam(ctx, "id"));
  return confirmSetupIntent(ctx, si, p.optString(ctx.params, "payment_method"));
}

function cancel(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["cancellation_reason", "expand"]);
  const si = ctx.store.require(ctx.scope, "setup_intent", pathParam(ctx, "id"));
  const reason = p.optEnum(ctx.params, "cancellation_reason", [
    "abandoned",
    "duplicate",
    "requested_by_customer",
  ]);
  return cancelSetupIntent(ctx, si, reason ?? null);
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "customer", "payment_method", "created"]);
  const customer = p.optString(ctx.params, "customer");
  const pm = p.optString(ctx.params, "payment_method");
  const created = rangeFilter(ctx.params, "created");
  return paginate(
    ctx.store.sequence(ctx.scope, "setup_intent"),
    ctx.params,
    "/v1/setup_intents",
    "setup_intent",
    (x) =>
      (customer === undefined || x.customer === customer) &&
      (pm === undefined || x.payment_method === pm) &&
      created(x.created),
  );
}

export const setupIntentRoutes: Route[] = [
  { method: "POST", path: "/v1/setup_intents", handler: create },
  { method: "GET", path: "/v1/setup_intents", handler: list },
  { method: "GET", path: "/v1/setup_intents/:id", handler: retrieve },
  { method: "POST", path: "/v1/setup_intents/:id/confirm", handler: confirm },
  { method: "POST", path: "/v1/setup_intents/:id/cancel", handler: cancel },
];
