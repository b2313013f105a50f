import type Stripe from "stripe";
import { DomainError } from "../ledger/errors.js";

/**
 * Coffer's own commands, mapped from Stripe events. Workers switch over this
 * union exhaustively, so a new command cannot be forgotten by a handler.
 * Commands carry ids only: the handler fetches what Stripe says now.
 */
export type Command =
  | { kind: "sync_payment_intent"; paymentIntentId: string }
  | { kind: "sync_refund"; refundId: string }
  | { kind: "sync_charge_refunds"; chargeId: string }
  | { kind: "sync_dispute"; disputeId: string }
  | { kind: "sync_account"; accountId: string; eventCreated: number }
  | { kind: "sync_payout"; payoutId: string; account: string | null }
  | { kind: "sync_transfer"; transferId: string }
  | { kind: "sync_bank_account"; financialAccountId: string }
  | { kind: "none"; reason: string };

export function toCommand(event: Stripe.Event): Command {
  switch (event.type) {
    case "payment_intent.succeeded":
    case "payment_intent.payment_failed":
    case "payment_intent.canceled":
    case "payment_intent.amount_capturable_updated":
    case "payment_intent.processing":
    case "payment_intent.requires_action":
      return { kind: "sync_payment_intent", paymentIntentId: objectId(event.data.object, "pi_") };
    case "charge.succeeded":
    case "charge.captured": {
      const pi = event.data.object.payment_intent;
      const piId = typeof pi === "string" ? pi : pi?.id;
      if (!piId) return { kind: "none", reason: "charge without a PaymentIntent is not a wallet top-up" };
      return { kind: "sync_payment_intent", paymentIntentId: piId };
    }
    case "refund.created":
    case "refund.updated":
    case "refund.failed":
    case "charge.refund.updated":
      return { kind: "sync_refund", refundId: objectId(event.data.object, "re_") };
    case "charge.refunded":
      return { kind: "sync_charge_refunds", chargeId: objectId(event.data.object, "ch_") };
    case "charge.dispute.created":
    case "charge.dispute.updated":
    case "charge.dispute.funds_withdrawn":
    case "charge.dispute.funds_reinstated":
    case "charge.dispute.closed":
      return { kind: "sync_dispute", disputeId: objectId(event.data.object, "dp_") };
    case "account.updated":
      return {
        kind: "sync_account",
        accountId: objectId(event.data.object, "acct_"),
        eventCreated: event.created,
      };
    case "payout.paid":
    case "payout.failed":
    case "payout.canceled":
      // Connect events name the connected account the payout lives on.
      return {
        kind: "sync_payout",
        payoutId: objectId(event.data.object, "po_"),
        account: event.account ?? null,
      };
    case "transfer.reversed":
      return { kind: "sync_transfer", transferId: objectId(event.data.object, "tr_") };
    case "financial_connections.account.created":
      return { kind: "sync_bank_account", financialAccountId: objectId(event.data.object, "fca_") };
    default:
      return { kind: "none", reason: `no handler for ${event.type}` };
  }
}

function objectId(obj: { id?: unknown }, prefix: string): string {
  if (typeof obj.id !== "string" || !obj.id.startsWith(prefix)) {
    throw new DomainError("event_malformed", `event object id ${String(obj.id)} is not a ${prefix}… id`);
  }
  return obj.id;
}

export function assertNever(x: never): never {
  throw new Error(`unhandled command ${JSON.stringify(x)}`);
}
