import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../errors.js";
import { newId, nowSeconds } from "../ids.js";
import type { Store } from "../state.js";
import { chargeSettlement, createMovementTransaction } from "./balance-transactions.js";
import { disputeOfCharge, isInquiry } from "./disputes.js";

export type RefundOutcome = "succeeded" | "failed" | "canceled";

const ALLOWED_FROM: Record<RefundOutcome, readonly string[]> = {
  succeeded: ["pending", "requires_action"],
  // Stripe can fail a refund that already showed succeeded, e.g. when the card was closed meanwhile.
  failed: ["pending", "requires_action", "succeeded"],
  // "You can't cancel refunds in other states" (Cancel a refund, Stripe's API reference).
  canceled: ["requires_action"],
};

// How many refunds an expanded `charge.refunds` shows before `has_more`, like any embedded list.
const EMBEDDED_LIST_LIMIT = 10;

/**
 * A charge's `refunds` as Stripe builds it when asked (`expand[]=refunds`): newest first. It is
 * never stored on the charge, so no event snapshot carries it either, as since API 2022-11-15.
 */
export function refundsOfCharge(store: Store, scope: string, chargeId: string) {
  const all = store.list(scope, "refund", (r) => r.charge === chargeId);
  return {
    object: "list" as const,
    data: all.slice(0, EMBEDDED_LIST_LIMIT),
    has_more: all.length > EMBEDDED_LIST_LIMIT,
    url: `/v1/charges/${chargeId}/refunds`,
  };
}

const VERB: Record<RefundOutcome, string> = {
  succeeded: "marked succeeded",
  failed: "failed",
  canceled: "canceled",
};

function chargeOf(ctx: ApiContext, refund: Stripe.Refund): Stripe.Charge {
  const id = typeof refund.charge === "string" ? refund.charge : refund.charge?.id;
  if (id === undefined) throw new Error(`refund ${refund.id} has no charge`);
  return ctx.store.require(ctx.scope, "charge", id);
}

/**
 * After amount_refunded changed: `refunded` means fully refunded, and an inquiry stops being
 * refundable once nothing is left to refund (a chargeback never is: the bank took the money).
 */
function syncCharge(ctx: ApiContext, charge: Stripe.Charge): void {
  // Against `amount`: what a partial capture released counts as refunded too (see captureCharge).
  charge.refunded = charge.amount_refunded >= charge.amount;
  const dispute = disputeOfCharge(ctx, charge.id);
  if (dispute && isInquiry(dispute)) dispute.is_charge_refundable = !charge.refunded;
}

/**
 * Books a new refund, pending or succeeded alike: Stripe debits the balance when the refund is
 * created and counts it in the charge's amount_refunded, and only gives it back if it fails.
 * A refund of a converted charge is converted at the charge's rate.
 */
export function bookRefund(ctx: ApiContext, charge: Stripe.Charge, refund: Stripe.Refund): void {
  const txn = createMovementTransaction(ctx, {
    amount: -refund.amount,
    currency: refund.currency,
    settlement: chargeSettlement(ctx, charge),
    type: "refund",
    reporting_category: "refund",
    source: refund.id,
    description: charge.description ? `REFUND FOR CHARGE (${charge.description})` : "REFUND FOR PAYMENT",
    available: true,
  });
  refund.balance_transaction = txn.id;
  ctx.store.insert(ctx.scope, "refund", refund);
  charge.amount_refunded += refund.amount;
  syncCharge(ctx, charge);
  ctx.emit("refund.created", refund);
  ctx.emit("charge.refunded", charge);
}

/**
 * The part of an authorization a partial capture left: Stripe books it as a refund of the charge
 * that moves no money (nothing was captured, so no balance transaction). The caller sends the
 * events, after the capture's.
 */
export function releaseUncaptured(ctx: ApiContext, charge: Stripe.Charge, amount: number): Stripe.Refund {
  const refund = newRefund(charge, {
    amount,
    status: "succeeded",
    destination: { card: { type: "reversal" }, type: "card" },
  });
  ctx.store.insert(ctx.scope, "refund", refund);
  charge.amount_refunded += amount;
  syncCharge(ctx, charge);
  return refund;
}

/** The money of a failed or canceled refund goes back to the balance and to the charge. */
function giveBack(ctx: ApiContext, refund: Stripe.Refund): void {
  const charge = chargeOf(ctx, refund);
  const txn = createMovementTransaction(ctx, {
    amount: refund.amount,
    currency: refund.currency,
    settlement: chargeSettlement(ctx, charge),
    type: "refund_failure",
    reporting_category: "refund_failure",
    source: refund.id,
    description: `REFUND FAILURE FOR ${refund.id}`,
    available: true,
  });
  refund.failure_balance_transaction = txn.id;
  charge.amount_refunded -= refund.amount;
  syncCharge(ctx, charge);
}

/**
 * Moves a refund to a final status. Each change is told twice, as Stripe does: `refund.updated`
 * and the older `charge.refund.updated` (both carry the refund); a failure adds `refund.failed`.
 */
export function settleRefund(
  ctx: ApiContext,
  refund: Stripe.Refund,
  outcome: RefundOutcome,
  failureReason = "expired_or_canceled_card",
): Stripe.Refund {
  const previous = refund.status ?? "pending";
  const allowed = ALLOWED_FROM[outcome];
  if (!allowed.includes(previous)) {
    const message =
      `This refund cannot be ${VERB[outcome]} because it has a status of ${previous}. ` +
      `Only a refund with one of the following statuses may be ${VERB[outcome]}: ${allowed.join(", ")}.`;
    throw invalidRequest(message);
  }
  refund.status = outcome;
  if (outcome !== "succeeded") giveBack(ctx, refund);
  if (outcome === "failed") {
    refund.failure_reason = failureReason;
    ctx.emit("refund.failed", refund, { status: previous });
  }
  // What Stripe's own example of a canceled refund shows.
  if (outcome === "canceled") refund.failure_reason = "merchant_request";
  ctx.emit("refund.updated", refund, { status: previous });
  ctx.emit("charge.refund.updated", refund, { status: previous });
  return refund;
}

/** A refund of `charge` as Stripe shows it when created; booking it is the caller's. */
export function newRefund(
  charge: Stripe.Charge,
  o: {
    amount: number;
    status: Stripe.Refund["status"];
    destination: Stripe.Refund["destination_details"];
    metadata?: Stripe.Metadata;
    reason?: Stripe.Refund["reason"];
  },
): Stripe.Refund {
  return {
    // Stripe's prefix for refunds of `py_` payments (bank debits, destination payments) is `pyr_`.
    id: newId(charge.id.startsWith("py_") ? "pyr" : "re"),
    object: "refund",
    amount: o.amount,
    balance_transaction: null,
    charge: charge.id,
    created: nowSeconds(),
    currency: charge.currency,
    customer: charge.customer,
    customer_account: null,
    destination_details: o.destination,
    metadata: o.metadata ?? {},
    payment_intent: charge.payment_intent,
    payment_method: charge.payment_method,
    reason: o.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: o.status,
    transfer_reversal: null,
  };
}
