import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../errors.js";
import { chargeSettlement, createMovementTransaction } from "./balance-transactions.js";
import { buildDispute, disputeOfCharge, isClosed, isInquiry } from "./disputes.js";
import type { DisputeKind, DisputeReason } from "./disputes.js";

/**
 * Stripe's chargeback fee in minor units of the balance transaction's currency (the settlement
 * currency, for a converted charge); charged on every chargeback.
 */
export const DISPUTE_FEE_MINOR = 1500;

export interface OpenDisputeInput {
  amount?: number | undefined;
  reason?: DisputeReason | undefined;
  inquiry?: boolean | undefined;
  prevented?: boolean | undefined;
}

function kindOf(input: OpenDisputeInput): DisputeKind {
  if (input.inquiry && input.prevented) {
    throw invalidRequest("A dispute is either an inquiry or prevented, not both.", { param: "prevented" });
  }
  if (input.prevented) return "prevented";
  return input.inquiry ? "inquiry" : "chargeback";
}

/**
 * The cardholder's bank opens a dispute. A chargeback takes the amount plus Stripe's fee at once,
 * so even `charge.dispute.created` already lists that balance transaction, as in Stripe's events.
 * A prevented one (Stripe's dispute prevention blocked it before it became a chargeback) moves
 * no money, costs no fee and is final from the start. Stripe documents the status but not its
 * events; the stand-in sends `charge.dispute.created` and `charge.dispute.closed`, so Coffer
 * must take `prevented` as final on either.
 */
export function openDispute(ctx: ApiContext, charge: Stripe.Charge, input: OpenDisputeInput): Stripe.Dispute {
  const kind = kindOf(input);
  if (!charge.captured || charge.amount_captured === 0) {
    throw invalidRequest(`Charge ${charge.id} has no captured funds to dispute.`, { param: "charge" });
  }
  const existing = disputeOfCharge(ctx, charge.id);
  if (existing) throw invalidRequest(`Charge ${charge.id} already has a dispute (${existing.id}).`);
  const amount = input.amount ?? charge.amount_captured;
  if (amount > charge.amount_captured) {
    const message = `Dispute amount (${amount}) is greater than the captured amount (${charge.amount_captured}).`;
    throw invalidRequest(message, { param: "amount" });
  }
  const dispute = buildDispute(charge, amount, input.reason ?? "fraudulent", kind);
  ctx.store.insert(ctx.scope, "dispute", dispute);
  charge.disputed = true;
  if (kind === "chargeback") {
    const withdrawal = createMovementTransaction(ctx, {
      amount: -amount,
      currency: dispute.currency,
      settlement: chargeSettlement(ctx, charge),
      type: "adjustment",
      reporting_category: "dispute",
      source: dispute.id,
      description: `Chargeback withdrawal for ${charge.id}`,
      fee: { amount: DISPUTE_FEE_MINOR, description: "Dispute fee" },
      available: false,
    });
    // The same object as in the store, so settling it shows on the dispute too.
    dispute.balance_transactions.push(withdrawal);
  }
  ctx.emit("charge.dispute.created", dispute);
  if (kind === "chargeback") ctx.emit("charge.dispute.funds_withdrawn", dispute);
  if (kind === "prevented") ctx.emit("charge.dispute.closed", dispute);
  return dispute;
}

/**
 * Where each open status may go next. An appeal follows a lost chargeback: the issuer's decision
 * is challenged (`appeal_needs_response`), evidence goes in (`appeal_under_review`), and the
 * appeal ends won (the money comes back) or lost (nothing more moves), through closeDispute.
 */
const NEXT: Record<string, readonly string[]> = {
  needs_response: ["under_review"],
  under_review: ["needs_response"],
  warning_needs_response: ["warning_under_review"],
  warning_under_review: ["warning_needs_response"],
  lost: ["appeal_needs_response"],
  appeal_needs_response: ["appeal_under_review"],
  appeal_under_review: ["appeal_needs_response"],
};

function refuseIfClosed(dispute: Stripe.Dispute): void {
  if (isClosed(dispute)) {
    throw invalidRequest(`This dispute is already closed (status ${dispute.status}).`, { param: "status" });
  }
}

/**
 * The merchant answered or the issuer moved the case along; an inquiry stays an inquiry. Moving
 * a lost chargeback to `appeal_needs_response` reopens it.
 */
export function updateDispute(ctx: ApiContext, dispute: Stripe.Dispute, status: string): Stripe.Dispute {
  const allowed = NEXT[dispute.status] ?? [];
  if (!allowed.includes(status)) {
    refuseIfClosed(dispute);
    const message =
      `A dispute with status ${dispute.status} cannot move to ${status}; ` +
      `allowed: ${allowed.join(", ") || "none"}.`;
    throw invalidRequest(message, { param: "status" });
  }
  const previous = dispute.status;
  dispute.status = status;
  if (status.endsWith("under_review")) {
    // Under review means evidence went in: that is when Stripe counts a submission.
    dispute.evidence_details.has_evidence = true;
    dispute.evidence_details.submission_count += 1;
    dispute.evidence_details.submission_method = "manual";
  }
  ctx.emit("charge.dispute.updated", dispute, { status: previous });
  return dispute;
}

/**
 * The issuer decides. A won chargeback (or a won appeal of a lost one) gives the amount back (the
 * fee stays with Stripe) as the dispute closes `won`; a lost one moves nothing more. Inquiries
 * just close.
 */
export function closeDispute(
  ctx: ApiContext,
  dispute: Stripe.Dispute,
  outcome: "won" | "lost",
): Stripe.Dispute {
  refuseIfClosed(dispute);
  const previous = dispute.status;
  if (isInquiry(dispute)) {
    dispute.status = "warning_closed";
  } else {
    if (outcome === "won") {
      const chargeId = typeof dispute.charge === "string" ? dispute.charge : dispute.charge.id;
      const charge = ctx.store.require(ctx.scope, "charge", chargeId);
      const reinstatement = createMovementTransaction(ctx, {
        amount: dispute.amount,
        currency: dispute.currency,
        settlement: chargeSettlement(ctx, charge),
        type: "adjustment",
        reporting_category: "dispute_reversal",
        source: dispute.id,
        description: `Chargeback reversal for ${chargeId}`,
        available: false,
      });
      dispute.balance_transactions.push(reinstatement);
    }
    dispute.status = outcome;
  }
  ctx.emit("charge.dispute.closed", dispute, { status: previous });
  // "Occurs when funds are reinstated to your account after a dispute is closed" (Stripe's event
  // reference): so its snapshot already says `won`, as the closed event's does.
  if (dispute.status === "won") ctx.emit("charge.dispute.funds_reinstated", dispute);
  return dispute;
}
