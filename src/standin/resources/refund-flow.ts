import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../errors.js";
import { chargeSettlement, createMovementTransaction } from "./balance-transactions.js";
import { disputeOfCharge, isInquiry } from "./disputes.js";

export type RefundOutcome = "succeeded" | "failed" | "canceled";

const ALLOWED_FROM: Record<RefundOutcome, readonly string[]> = {
  succeeded: ["pending", "requires_action"],
  // Stripe can fail a refund that already showed succeeded, e.g. when the card was closed meanwhile.
  failed: ["pending", "requires_action", "succeeded"],
  canceled: ["pending", "requires_action"],
};

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
  charge.refunded = charge.amount_refunded >= charge.amount_captured;
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
  // The stored refund itself, newest first: the charge's list follows later status changes.
  charge.refunds?.data.unshift(refund);
  ctx.emit("refund.created", refund);
  ctx.emit("charge.refunded", charge);
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
  ctx.emit("refund.updated", refund, { status: previous });
  ctx.emit("charge.refund.updated", refund, { status: previous });
  return refund;
}
