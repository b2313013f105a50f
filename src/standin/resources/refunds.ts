import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { formatMinor, parseCurrency } from "../currencies.js";
import { invalidRequest, paramError } from "../errors.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { disputeOfCharge, isInquiry } from "./disputes.js";
import { isBankDebit, refundDestination } from "./bank-debit-flow.js";
import { bookRefund, newRefund, settleRefund } from "./refund-flow.js";

declare module "../state.js" {
  interface ObjectTypes {
    refund: Stripe.Refund;
  }
}

/**
 * Metadata key that makes a new refund start out `pending` (or `requires_action`) instead of
 * `succeeded`, so tests can then succeed, fail or cancel it. Kept in metadata like any other key.
 */
export const STATUS_METADATA_KEY = "standin_status";
const START_STATUSES = ["pending", "requires_action"];

const SYMBOLS: Record<string, string> = { usd: "$", eur: "€", gbp: "£", jpy: "¥" };

/** Money as Stripe writes it in refund errors: `$10.00`, or `10.00 CHF` without a symbol. */
function money(amountMinor: number, currency: string): string {
  const formatted = formatMinor(amountMinor, parseCurrency(currency).exponent);
  const symbol = SYMBOLS[currency];
  return symbol === undefined ? `${formatted} ${currency.toUpperCase()}` : `${symbol}${formatted}`;
}

/** The charge a refund is for: given directly, or the PaymentIntent's successful charge. */
function targetCharge(ctx: ApiContext): Stripe.Charge {
  const chargeId = p.optString(ctx.params, "charge");
  const piId = p.optString(ctx.params, "payment_intent");
  if (chargeId !== undefined && piId !== undefined) {
    throw paramError("You can only specify one of these parameters: charge, payment_intent.", "charge");
  }
  if (chargeId !== undefined) return ctx.store.require(ctx.scope, "charge", chargeId, "charge");
  if (piId === undefined) {
    const message =
      "One of the following params should be provided for this request: payment_intent or charge.";
    throw paramError(message, "payment_intent", "parameter_missing");
  }
  const pi = ctx.store.require(ctx.scope, "payment_intent", piId, "payment_intent");
  const latest = typeof pi.latest_charge === "string" ? pi.latest_charge : pi.latest_charge?.id;
  if (pi.status !== "succeeded" || latest === undefined) {
    const message = `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`;
    throw invalidRequest(message, { code: "charge_not_refundable", param: "payment_intent" });
  }
  return ctx.store.require(ctx.scope, "charge", latest);
}

/** What Stripe checks before refunding; returns the amount to refund. */
function refundableAmount(ctx: ApiContext, charge: Stripe.Charge): number {
  if (charge.status === "pending") {
    // A bank debit still clearing (stand-in wording; Stripe refuses it too).
    const message = `Charge ${charge.id} is pending and cannot be refunded until it succeeds.`;
    throw invalidRequest(message, { code: "charge_not_refundable", param: "charge" });
  }
  if (charge.status !== "succeeded" || !charge.captured) {
    // Stripe would release an uncaptured authorization instead; Coffer cancels the intent for that.
    const message = `Charge ${charge.id} has not been captured and cannot be refunded.`;
    throw invalidRequest(message, { code: "charge_not_refundable", param: "charge" });
  }
  const dispute = disputeOfCharge(ctx, charge.id);
  // A chargeback (or its appeal) already took the money back; once won the charge is refundable
  // again. Inquiries and prevented disputes never took it.
  if (dispute && !isInquiry(dispute) && !["won", "prevented"].includes(dispute.status)) {
    const message = `Charge ${charge.id} has been charged back; cannot issue a refund.`;
    throw invalidRequest(message, { code: "charge_disputed", param: "charge" });
  }
  // Against `amount`: what a partial capture did not take is counted in amount_refunded already.
  const remaining = charge.amount - charge.amount_refunded;
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
      code: "charge_already_refunded",
    });
  }
  const amount = p.optInt(ctx.params, "amount") ?? remaining;
  if (amount < 1) {
    throw paramError("This value must be greater than or equal to 1.", "amount", "parameter_invalid_integer");
  }
  if (amount > remaining) {
    const message =
      `Refund amount (${money(amount, charge.currency)}) is greater than unrefunded amount on charge ` +
      `(${money(remaining, charge.currency)})`;
    throw invalidRequest(message, { code: "amount_too_large", param: "amount" });
  }
  return amount;
}

/**
 * Card refunds succeed at once; bank-debit refunds go out through the bank and stay `pending`
 * until it pays them (the succeed and fail controls), as Stripe's do for days.
 */
function startStatus(metadata: Record<string, string>, charge: Stripe.Charge): string {
  const wanted = metadata[STATUS_METADATA_KEY];
  if (wanted === undefined) return isBankDebit(charge) ? "pending" : "succeeded";
  if (!START_STATUSES.includes(wanted)) {
    const message = `Stand-in: metadata[${STATUS_METADATA_KEY}] must be one of ${START_STATUSES.join(", ")}.`;
    throw paramError(message, `metadata[${STATUS_METADATA_KEY}]`);
  }
  return wanted;
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["amount", "charge", "payment_intent", "reason", "metadata", "expand"]);
  const reason = p.optEnum(ctx.params, "reason", ["duplicate", "fraudulent", "requested_by_customer"]);
  const metadata = p.applyMetadata({}, ctx.params);
  const charge = targetCharge(ctx);
  const status = startStatus(metadata, charge);
  const amount = refundableAmount(ctx, charge);
  const refund = newRefund(charge, {
    amount,
    status,
    destination: refundDestination(charge),
    metadata,
    reason: reason ?? null,
  });
  bookRefund(ctx, charge, refund);
  return refund;
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "refund", pathParam(ctx, "id"));
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "created", "charge", "payment_intent"]);
  const created = rangeFilter(ctx.params, "created");
  const charge = p.optString(ctx.params, "charge");
  const paymentIntent = p.optString(ctx.params, "payment_intent");
  const items = ctx.store.sequence(ctx.scope, "refund");
  return paginate(
    items,
    ctx.params,
    "/v1/refunds",
    "refund",
    (r) =>
      created(r.created) &&
      (charge === undefined || r.charge === charge) &&
      (paymentIntent === undefined || r.payment_intent === paymentIntent),
  );
}

/** Stripe cancels only refunds waiting on the customer (`requires_action`), never `pending` ones. */
function cancel(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return settleRefund(ctx, ctx.store.require(ctx.scope, "refund", pathParam(ctx, "id")), "canceled");
}

export const refundRoutes: Route[] = [
  { method: "POST", path: "/v1/refunds", handler: create },
  { method: "GET", path: "/v1/refunds", handler: list },
  { method: "GET", path: "/v1/refunds/:id", handler: retrieve },
  { method: "POST", path: "/v1/refunds/:id/cancel", handler: cancel },
];
