import type Stripe from "stripe";
import type { QueueName } from "../queue/names.js";
import type { Command } from "./commands.js";
import { invoice, invoicePayment, price, product, setupIntent, subscription } from "./billing-snapshots.js";
import { accountOf, charge, dispute, externalAccount, objectId, paymentIntent, refund } from "./snapshots.js";

type EventOf<T extends Stripe.Event.Type> = Extract<Stripe.Event, { type: T }>;
interface Route<T extends Stripe.Event.Type> {
  queue: QueueName;
  command: (event: EventOf<T>) => Command;
}

/**
 * The one table from a Stripe event type to the queue that works it and the
 * command it becomes. The web reads the queue (a type not here is stored
 * `ignored` and answered 200: throwing would make Stripe retry it for 3 days),
 * the worker reads the command, so the two can never disagree. Commands carry
 * the event's own snapshot: a signed `data.object` is Stripe's word, and
 * handlers fetch only what it lacks. Sibling events (`charge.succeeded` beside
 * `payment_intent.succeeded`) go to the same queue and converge on one key.
 */
export const EVENT_TABLE = {
  "payment_intent.succeeded": { queue: "payments", command: piCommand },
  "payment_intent.payment_failed": { queue: "payments", command: piCommand },
  "payment_intent.canceled": { queue: "payments", command: piCommand },
  "payment_intent.amount_capturable_updated": { queue: "payments", command: piCommand },
  "payment_intent.processing": { queue: "payments", command: piCommand },
  "payment_intent.requires_action": { queue: "payments", command: piCommand },
  "charge.succeeded": { queue: "payments", command: chargeCommand },
  "charge.captured": { queue: "payments", command: chargeCommand },
  "charge.refunded": {
    queue: "refunds",
    command: (e) => ({ kind: "sync_charge_refunds", charge: charge(e.data.object) }),
  },
  "charge.refund.updated": { queue: "refunds", command: refundCommand },
  "refund.created": { queue: "refunds", command: refundCommand },
  "refund.updated": { queue: "refunds", command: refundCommand },
  "refund.failed": { queue: "refunds", command: refundCommand },
  "charge.dispute.created": { queue: "disputes", command: disputeCommand },
  "charge.dispute.updated": { queue: "disputes", command: disputeCommand },
  "charge.dispute.funds_withdrawn": { queue: "disputes", command: disputeCommand },
  "charge.dispute.funds_reinstated": { queue: "disputes", command: disputeCommand },
  "charge.dispute.closed": { queue: "disputes", command: disputeCommand },
  "account.updated": {
    queue: "withdrawals",
    command: (e) => ({
      kind: "sync_account",
      accountId: objectId(e.data.object, "account"),
      eventCreated: e.created,
    }),
  },
  "account.external_account.created": { queue: "withdrawals", command: externalAccountCommand },
  "account.external_account.updated": { queue: "withdrawals", command: externalAccountCommand },
  "account.external_account.deleted": { queue: "withdrawals", command: externalAccountCommand },
  "payout.paid": { queue: "withdrawals", command: payoutCommand },
  "payout.failed": { queue: "withdrawals", command: payoutCommand },
  "payout.canceled": { queue: "withdrawals", command: payoutCommand },
  "transfer.reversed": {
    queue: "withdrawals",
    command: (e) => ({ kind: "sync_transfer", transferId: objectId(e.data.object, "transfer") }),
  },
  "financial_connections.account.created": {
    queue: "withdrawals",
    command: (e) => ({
      kind: "sync_bank_account",
      financialAccountId: objectId(e.data.object, "financial_connections.account"),
    }),
  },
  // Billing (SPEC → Subscriptions): plans, saved cards and the subscriptions made from them.
  "price.created": { queue: "subscriptions", command: priceCommand },
  "price.updated": { queue: "subscriptions", command: priceCommand },
  "price.deleted": { queue: "subscriptions", command: priceCommand },
  "product.updated": { queue: "subscriptions", command: productCommand },
  "product.deleted": { queue: "subscriptions", command: productCommand },
  "setup_intent.succeeded": { queue: "subscriptions", command: setupIntentCommand },
  "setup_intent.setup_failed": { queue: "subscriptions", command: setupIntentCommand },
  "setup_intent.requires_action": { queue: "subscriptions", command: setupIntentCommand },
  "setup_intent.canceled": { queue: "subscriptions", command: setupIntentCommand },
  "customer.subscription.created": { queue: "subscriptions", command: subscriptionCommand },
  "customer.subscription.updated": { queue: "subscriptions", command: subscriptionCommand },
  "customer.subscription.deleted": { queue: "subscriptions", command: subscriptionCommand },
  "customer.subscription.paused": { queue: "subscriptions", command: subscriptionCommand },
  "customer.subscription.resumed": { queue: "subscriptions", command: subscriptionCommand },
  "customer.subscription.trial_will_end": { queue: "subscriptions", command: subscriptionCommand },
  // A pending update applied or lapsed changes the subscription like any update.
  "customer.subscription.pending_update_applied": { queue: "subscriptions", command: subscriptionCommand },
  "customer.subscription.pending_update_expired": { queue: "subscriptions", command: subscriptionCommand },
  "invoice.paid": { queue: "subscriptions", command: invoiceCommand },
  "invoice.payment_failed": { queue: "subscriptions", command: invoiceCommand },
  // The money of a paid invoice: it names the PaymentIntent that paid it, which the invoice no
  // longer does on this API version, so it books `in_…:paid` where the stream can trace it.
  "invoice_payment.paid": {
    queue: "subscriptions",
    command: (e) =>
      e.account !== undefined
        ? { kind: "none", reason: "an invoice of a connected account is not the platform's money" }
        : { kind: "book_invoice_payment", payment: invoicePayment(e.data.object) },
  },
} satisfies { [T in Stripe.Event.Type]?: Route<T> };

/**
 * Types Coffer deliberately does not act on, where a sibling type is routed (so a
 * new one in a routed family is a decision, not an accident). Families with no
 * routed member are ignored whole in IgnoredFamily below.
 */
const IGNORED = [
  "account.application.authorized",
  "account.application.deauthorized",
  "charge.expired", // an uncaptured authorization lapsed: payment_intent.canceled follows
  "charge.failed", // payment_intent.payment_failed says the same
  "charge.pending", // payment_intent.processing says the same
  "charge.updated", // description/metadata edits: no money moves
  "payment_intent.created", // the top-up route recorded it already
  "payment_intent.partially_funded", // customer balance payments: not offered for top-ups
  "payout.created",
  "payout.updated",
  "payout.reconciliation_completed",
  "transfer.created", // the withdrawal job created it and recorded the answer
  "transfer.updated",
  "financial_connections.account.account_numbers_updated",
  "financial_connections.account.deactivated",
  "financial_connections.account.disconnected",
  "financial_connections.account.expected_deactivation_date_updated",
  "financial_connections.account.reactivated",
  "financial_connections.account.refreshed_balance",
  "financial_connections.account.refreshed_ownership",
  "financial_connections.account.refreshed_transactions",
  "financial_connections.account.supported_payment_method_types_updated",
  "financial_connections.account.upcoming_account_number_expiry",
  "financial_connections.account.upcoming_deactivation",
  "financial_connections.authorization.expected_deactivation_date_updated",
  "financial_connections.authorization.upcoming_deactivation",
  "product.created", // a product without prices is no plan; its price.created brings it in
  "setup_intent.created", // POST /v1/subscriptions recorded it already
  // The customer is Coffer's own record of a user; nothing Coffer mirrors lives on it.
  "customer.created",
  "customer.updated",
  "customer.deleted",
  "customer.discount.created",
  "customer.discount.updated",
  "customer.discount.deleted",
  "customer.source.created",
  "customer.source.updated",
  "customer.source.deleted",
  "customer.source.expiring",
  "customer.tax_id.created",
  "customer.tax_id.updated",
  "customer.tax_id.deleted",
  // Of an invoice's life Coffer mirrors whether it was paid or its payment failed; the rest is
  // Stripe's bookkeeping (invoice.payment_succeeded comes beside invoice.paid).
  "invoice.created",
  "invoice.deleted",
  "invoice.finalization_failed",
  "invoice.finalized",
  "invoice.marked_uncollectible",
  "invoice.overdue",
  "invoice.overpaid",
  "invoice.payment_action_required",
  "invoice.payment_attempt_required",
  "invoice.payment_succeeded",
  "invoice.sent",
  "invoice.upcoming",
  "invoice.updated",
  "invoice.voided",
  "invoice.will_be_due",
] as const satisfies readonly Stripe.Event.Type[];

/** Whole families no Coffer flow touches (Issuing, Treasury, Terminal, legacy plans, …). */
type IgnoredFamily =
  | `application_fee.${string}`
  | `apps.${string}`
  | `balance.${string}`
  | `balance_settings.${string}`
  | `billing.${string}`
  | `billing_portal.${string}`
  | `capability.${string}`
  | `cash_balance.${string}`
  | `checkout.${string}`
  | `climate.${string}`
  | `coupon.${string}`
  | `credit_note.${string}`
  | `customer_cash_balance_transaction.${string}`
  | `entitlements.${string}`
  | `file.${string}`
  | `identity.${string}`
  | `invoice_payment.${string}`
  | `invoiceitem.${string}`
  | `issuing_${string}`
  | `mandate.${string}`
  | `payment_link.${string}`
  | `payment_method.${string}`
  | `person.${string}`
  | `plan.${string}`
  | `promotion_code.${string}`
  | `quote.${string}`
  | `radar.${string}`
  | `reporting.${string}`
  | `reserve.${string}`
  | `review.${string}`
  | `sigma.${string}`
  | `source.${string}`
  | `subscription_schedule.${string}`
  | `tax.${string}`
  | `tax_rate.${string}`
  | `terminal.${string}`
  | `test_helpers.${string}`
  | `three_d_secure.${string}`
  | `topup.${string}`
  | `treasury.${string}`;

/**
 * Every type in the SDK's `Stripe.Event.Type` is routed, ignored by name, or in an
 * ignored family. Upgrading the SDK with a new type in a family Coffer routes
 * (say `charge.dispute.escalated`) fails to compile here, naming the type.
 */
type Undecided = Exclude<
  Stripe.Event.Type,
  keyof typeof EVENT_TABLE | (typeof IGNORED)[number] | IgnoredFamily
>;
const everyTypeDecided: [Undecided] extends [never] ? true : Undecided = true;
void everyTypeDecided;

type Routed = keyof typeof EVENT_TABLE;
export const isRouted = (type: string): type is Routed => Object.hasOwn(EVENT_TABLE, type);
export const IGNORED_EVENT_TYPES: readonly string[] = IGNORED;

function piCommand(e: { data: { object: Stripe.PaymentIntent } }): Command {
  const pi = paymentIntent(e.data.object);
  return { kind: "sync_payment_intent", paymentIntentId: pi.id, snapshot: pi };
}

function chargeCommand(e: { data: { object: Stripe.Charge } }): Command {
  const c = charge(e.data.object);
  if (!c.paymentIntentId)
    return { kind: "none", reason: "charge without a PaymentIntent is not a wallet top-up" };
  return { kind: "sync_charge", charge: c };
}

function refundCommand(e: { data: { object: Stripe.Refund } }): Command {
  return { kind: "sync_refund", refund: refund(e.data.object) };
}

function disputeCommand(e: { created: number; data: { object: Stripe.Dispute } }): Command {
  return { kind: "sync_dispute", dispute: dispute(e.data.object), eventCreated: e.created };
}

function priceCommand(e: { type: string; created: number; data: { object: Stripe.Price } }): Command {
  return {
    kind: "sync_price",
    price: price(e.data.object),
    deleted: e.type === "price.deleted",
    eventCreated: e.created,
  };
}

function productCommand(e: { type: string; created: number; data: { object: Stripe.Product } }): Command {
  const p = product(e.data.object);
  const deleted = e.type === "product.deleted";
  return {
    kind: "sync_product",
    product: { ...p, deleted, active: p.active && !deleted },
    eventCreated: e.created,
  };
}

function setupIntentCommand(e: { created: number; data: { object: Stripe.SetupIntent } }): Command {
  return { kind: "sync_setup_intent", setupIntent: setupIntent(e.data.object), eventCreated: e.created };
}

function subscriptionCommand(e: {
  type: string;
  created: number;
  data: { object: Stripe.Subscription };
}): Command {
  return {
    kind: "sync_subscription",
    subscription: subscription(e.data.object),
    eventCreated: e.created,
    trialWillEnd: e.type === "customer.subscription.trial_will_end",
  };
}

function invoiceCommand(e: { type: string; created: number; data: { object: Stripe.Invoice } }): Command {
  return {
    kind: "sync_invoice",
    invoice: invoice(e.data.object),
    eventCreated: e.created,
    paymentFailed: e.type === "invoice.payment_failed",
  };
}

function payoutCommand(e: { account?: string; data: { object: Stripe.Payout } }): Command {
  // Connect events name the connected account the payout lives on.
  return { kind: "sync_payout", payoutId: objectId(e.data.object, "payout"), account: e.account ?? null };
}

function externalAccountCommand(e: {
  type: string;
  account?: string;
  created: number;
  data: { object: Stripe.BankAccount | Stripe.Card };
}): Command {
  return {
    kind: "sync_external_account",
    accountId: accountOf(e),
    externalAccount: externalAccount(e.data.object),
    deleted: e.type === "account.external_account.deleted",
    eventCreated: e.created,
  };
}
