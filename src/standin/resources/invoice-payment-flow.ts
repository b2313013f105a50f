import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { newId, nowSeconds, randomBase62 } from "../ids.js";
import type { TestCard } from "../payment-methods.js";
import { createChargeTransaction } from "./balance-transactions.js";
import { billingNow } from "./billing-clock.js";
import { cardOfPaymentMethod } from "./billing-cards.js";
import { createCharge } from "./charges.js";

declare module "../state.js" {
  interface ObjectTypes {
    invoice_payment: Stripe.InvoicePayment;
  }
}

/**
 * How Stripe charges an invoice, on the API version stripe 23.1.0 pins (2026-10-28): since
 * 2025-03-31 an invoice no longer names its `charge` or `payment_intent`, nor a PaymentIntent or
 * Charge its `invoice`. The link is the invoice's default InvoicePayment (`inpay_…`), made when
 * the invoice is finalized with a PaymentIntent of its own, listed at `GET /v1/invoice_payments`
 * and announced paid by `invoice_payment.paid`. Each attempt is a Charge on that PaymentIntent;
 * a paid one books a `charge` balance transaction with Stripe's fee, pending like any card charge.
 */

/** The invoice's default payment, or undefined for an invoice of 0 (which Stripe charges nothing for). */
export function defaultPaymentOf(ctx: ApiContext, invoiceId: string): Stripe.InvoicePayment | undefined {
  return ctx.store.list(ctx.scope, "invoice_payment", (p) => p.invoice === invoiceId && p.is_default)[0];
}

const piOf = (record: Stripe.InvoicePayment) => {
  const pi = record.payment.payment_intent;
  return typeof pi === "string" ? pi : pi?.id;
};

/** At finalization: the PaymentIntent for what is due and the default InvoicePayment naming it. */
export function createDefaultPayment(ctx: ApiContext, invoice: Stripe.Invoice): void {
  if (invoice.amount_due <= 0) return;
  const id = newId("pi");
  const pi: Stripe.PaymentIntent = {
    id,
    object: "payment_intent",
    amount: invoice.amount_due,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    allowed_payment_method_types: null,
    payment_method_types: ["card"],
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic",
    client_secret: `${id}_secret_${randomBase62(25)}`,
    confirmation_method: "automatic",
    created: nowSeconds(),
    currency: invoice.currency,
    customer: typeof invoice.customer === "string" ? invoice.customer : (invoice.customer?.id ?? null),
    customer_account: null,
    description:
      invoice.billing_reason === "subscription_create" ? "Subscription creation" : "Subscription update",
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: "requires_payment_method",
    transfer_data: null,
    transfer_group: null,
  };
  ctx.store.insert(ctx.scope, "payment_intent", pi);
  ctx.emit("payment_intent.created", pi);
  ctx.store.insert(ctx.scope, "invoice_payment", {
    id: newId("inpay"),
    object: "invoice_payment",
    amount_paid: null,
    amount_requested: invoice.amount_due,
    created: billingNow(ctx.store, String(invoice.customer)),
    currency: invoice.currency,
    invoice: invoice.id,
    is_default: true,
    livemode: false,
    payment: { type: "payment_intent", payment_intent: pi.id },
    status: "open",
    status_transitions: { canceled_at: null, paid_at: null },
  });
}

/** An off-session attempt with a saved card, as the card's Billing behaviour says it goes. */
function testCardOf(pm: Stripe.PaymentMethod): TestCard {
  const card = cardOfPaymentMethod(pm);
  const base: TestCard = { type: "card", brand: card.brand, last4: card.last4, funding: card.funding };
  if (card.charge === "ok") return base;
  if (card.charge === "authenticate") {
    const message = "Your card was declined. This transaction requires authentication.";
    return {
      ...base,
      decline: { code: "authentication_required", declineCode: "authentication_required", message },
    };
  }
  const declineCode = card.declineCode ?? "generic_decline";
  return { ...base, decline: { code: "card_declined", declineCode, message: "Your card was declined." } };
}

/**
 * One attempt to charge the invoice's PaymentIntent with `pm`: a Charge either way. Paid: the
 * charge is captured with its balance transaction (Stripe's fee, `available_on` as any card
 * charge) in the platform's balance, the PaymentIntent succeeds and the InvoicePayment is paid,
 * with `charge.succeeded`, `payment_intent.succeeded` and `invoice_payment.paid`. Declined: a
 * failed charge with no balance transaction, `charge.failed` and `payment_intent.payment_failed`;
 * the PaymentIntent stays open for the next attempt, as Stripe retries on the same one.
 */
export function chargeInvoice(ctx: ApiContext, invoice: Stripe.Invoice, pm: Stripe.PaymentMethod): boolean {
  const record = defaultPaymentOf(ctx, invoice.id);
  const piId = record === undefined ? undefined : piOf(record);
  const pi = piId === undefined ? undefined : ctx.store.get(ctx.scope, "payment_intent", piId);
  if (!record || !pi) throw new Error(`stand-in: invoice ${invoice.id} has no default payment`);
  const card = testCardOf(pm);
  pi.payment_method = pm.id;
  const charge = createCharge(ctx, pi, pm.id, card);
  pi.latest_charge = charge.id;
  if (card.decline) {
    const { code, declineCode, message } = card.decline;
    pi.status = "requires_payment_method";
    pi.payment_method = null;
    pi.last_payment_error = {
      type: "card_error",
      code,
      decline_code: declineCode,
      message,
      charge: charge.id,
      doc_url: `https://stripe.com/docs/error-codes/${code}`,
      payment_method_type: "card",
    };
    ctx.emit("charge.failed", charge);
    ctx.emit("payment_intent.payment_failed", pi);
    return false;
  }
  charge.captured = true;
  charge.amount_captured = pi.amount;
  charge.balance_transaction = createChargeTransaction(ctx, charge, pi.amount).id;
  pi.status = "succeeded";
  pi.amount_received = pi.amount;
  pi.last_payment_error = null;
  record.status = "paid";
  record.amount_paid = pi.amount;
  record.status_transitions.paid_at = billingNow(ctx.store, String(invoice.customer));
  ctx.emit("charge.succeeded", charge);
  ctx.emit("payment_intent.succeeded", pi);
  ctx.emit("invoice_payment.paid", record);
  return true;
}
