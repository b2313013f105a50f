import type Stripe from "stripe";
import { EVENT_TABLE, isRouted } from "./event-table.js";
import type {
  InvoicePaymentView,
  InvoiceView,
  PriceView,
  ProductView,
  SetupIntentView,
  SubscriptionView,
} from "./billing-snapshots.js";
import type { ChargeView, DisputeView, PaymentIntentView, RefundView } from "./snapshots.js";

/**
 * Coffer's own commands, mapped from Stripe events by the one table in
 * event-table.ts. Workers switch over this union exhaustively, so a new command
 * cannot be forgotten by a handler. Money commands carry the event's snapshot:
 * handlers fetch from Stripe only what it lacks or what has not arrived yet.
 */
export type Command =
  | { kind: "sync_payment_intent"; paymentIntentId: string; snapshot: PaymentIntentView | null }
  | { kind: "sync_charge"; charge: ChargeView }
  | { kind: "sync_refund"; refund: RefundView }
  | { kind: "sync_charge_refunds"; charge: ChargeView }
  | { kind: "sync_dispute"; dispute: DisputeView; eventCreated: number }
  | { kind: "sync_account"; accountId: string; eventCreated: number }
  | {
      kind: "sync_external_account";
      accountId: string;
      externalAccount: Stripe.BankAccount | Stripe.Card;
      deleted: boolean;
      eventCreated: number;
    }
  | { kind: "sync_payout"; payoutId: string; account: string | null }
  | { kind: "sync_transfer"; transferId: string }
  | { kind: "sync_bank_account"; financialAccountId: string }
  | { kind: "sync_price"; price: PriceView; deleted: boolean; eventCreated: number }
  | { kind: "sync_product"; product: ProductView; eventCreated: number }
  | { kind: "sync_setup_intent"; setupIntent: SetupIntentView; eventCreated: number }
  | { kind: "sync_subscription"; subscription: SubscriptionView; eventCreated: number; trialWillEnd: boolean }
  | { kind: "sync_invoice"; invoice: InvoiceView; eventCreated: number; paymentFailed: boolean }
  | { kind: "book_invoice_payment"; payment: InvoicePaymentView }
  | { kind: "none"; reason: string };

export function toCommand(event: Stripe.Event): Command {
  if (!isRouted(event.type)) return { kind: "none", reason: `no handler for ${event.type}` };
  // The table's type ties each entry's command to its own event type; the lookup by a
  // runtime string cannot see that pairing, so it is restated here once.
  const route = EVENT_TABLE[event.type] as { command: (e: Stripe.Event) => Command };
  return route.command(event);
}

export function assertNever(x: never): never {
  throw new Error(`unhandled command ${JSON.stringify(x)}`);
}
