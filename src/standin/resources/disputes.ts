import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { newId, nowSeconds } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import { allowOnly, optString } from "../params.js";

declare module "../state.js" {
  interface ObjectTypes {
    dispute: Stripe.Dispute;
  }
}

/** Reasons Stripe reports on card disputes. */
export const DISPUTE_REASONS = [
  "bank_cannot_process",
  "credit_not_processed",
  "customer_initiated",
  "debit_not_authorized",
  "duplicate",
  "fraudulent",
  "general",
  "incorrect_account_details",
  "insufficient_funds",
  "noncompliant",
  "product_not_received",
  "product_unacceptable",
  "subscription_canceled",
  "unrecognized",
] as const;
export type DisputeReason = (typeof DISPUTE_REASONS)[number];

// Visa's codes for the common reasons, so `network_reason_code` looks like what Stripe sends.
const VISA_REASON_CODES: Partial<Record<DisputeReason, string>> = {
  fraudulent: "10.4",
  product_not_received: "13.1",
  product_unacceptable: "13.3",
  duplicate: "12.6.1",
  credit_not_processed: "13.6",
  subscription_canceled: "13.2",
};

// Issuers usually give the merchant about a week to answer.
const RESPONSE_WINDOW_S = 7 * 86_400;

const EMPTY_EVIDENCE: Stripe.Dispute.Evidence = {
  access_activity_log: null,
  billing_address: null,
  cancellation_policy: null,
  cancellation_policy_disclosure: null,
  cancellation_rebuttal: null,
  customer_communication: null,
  customer_email_address: null,
  customer_name: null,
  customer_purchase_ip: null,
  customer_signature: null,
  duplicate_charge_documentation: null,
  duplicate_charge_explanation: null,
  duplicate_charge_id: null,
  enhanced_evidence: {},
  product_description: null,
  receipt: null,
  refund_policy: null,
  refund_policy_disclosure: null,
  refund_refusal_explanation: null,
  service_date: null,
  service_documentation: null,
  shipping_address: null,
  shipping_carrier: null,
  shipping_date: null,
  shipping_documentation: null,
  shipping_tracking_number: null,
  uncategorized_file: null,
  uncategorized_text: null,
};

/** Inquiries (`warning_*`) are the issuer asking questions: no money moves and they never escalate here. */
export function isInquiry(dispute: Stripe.Dispute): boolean {
  return dispute.status.startsWith("warning_");
}

/** Final until an appeal reopens a `lost` one (dispute-flow.ts). */
export function isClosed(dispute: Stripe.Dispute): boolean {
  return ["won", "lost", "warning_closed", "prevented"].includes(dispute.status);
}

/**
 * How a dispute starts: a chargeback, an inquiry, or one Stripe's dispute prevention stopped
 * before it became a chargeback (`prevented`, case type `block`).
 */
export type DisputeKind = "chargeback" | "inquiry" | "prevented";

const CASE_TYPE: Record<DisputeKind, Stripe.Dispute.PaymentMethodDetails.Card.CaseType> = {
  chargeback: "chargeback",
  inquiry: "inquiry",
  prevented: "block",
};

const FIRST_STATUS: Record<DisputeKind, Stripe.Dispute.Status> = {
  chargeback: "needs_response",
  inquiry: "warning_needs_response",
  prevented: "prevented",
};

/** A new dispute object, shaped like Stripe's fixture; the caller books money and stores it. */
export function buildDispute(
  charge: Stripe.Charge,
  amount: number,
  reason: DisputeReason,
  kind: DisputeKind,
): Stripe.Dispute {
  const created = nowSeconds();
  const brand = charge.payment_method_details?.card?.brand ?? "visa";
  const code = VISA_REASON_CODES[reason] ?? null;
  return {
    id: newId("dp"),
    object: "dispute",
    amount,
    balance_transactions: [],
    charge: charge.id,
    created,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: structuredClone(EMPTY_EVIDENCE),
    evidence_details: {
      due_by: created + RESPONSE_WINDOW_S,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: "not_submitted",
    },
    intended_submission_method: null,
    // A chargeback has taken the money already; an inquiry can still be settled with a refund,
    // and a prevented one never took anything.
    is_charge_refundable: kind !== "chargeback" && !charge.refunded,
    livemode: false,
    metadata: {},
    network_reason_code: code,
    payment_intent: charge.payment_intent,
    payment_method_details: {
      card: {
        brand,
        case_type: CASE_TYPE[kind],
        network: brand,
        network_reason_code: code,
      },
      type: "card",
    },
    reason,
    status: FIRST_STATUS[kind],
  };
}

/** The dispute on a charge, if any: a card charge can be disputed once. */
export function disputeOfCharge(ctx: ApiContext, chargeId: string): Stripe.Dispute | undefined {
  return ctx.store.list(ctx.scope, "dispute", (d) => d.charge === chargeId)[0];
}

function retrieve(ctx: ApiContext): object {
  allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "dispute", pathParam(ctx, "id"));
}

function list(ctx: ApiContext): object {
  allowOnly(ctx.params, [...LIST_PARAMS, "created", "charge", "payment_intent"]);
  const created = rangeFilter(ctx.params, "created");
  const charge = optString(ctx.params, "charge");
  const paymentIntent = optString(ctx.params, "payment_intent");
  const items = ctx.store.sequence(ctx.scope, "dispute");
  return paginate(
    items,
    ctx.params,
    "/v1/disputes",
    "dispute",
    (d) =>
      created(d.created) &&
      (charge === undefined || d.charge === charge) &&
      (paymentIntent === undefined || d.payment_intent === paymentIntent),
  );
}

export const disputeRoutes: Route[] = [
  { method: "GET", path: "/v1/disputes/:id", handler: retrieve },
  { method: "GET", path: "/v1/disputes", handler: list },
];
