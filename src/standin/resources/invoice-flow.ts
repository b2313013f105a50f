import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { newId } from "../ids.js";
import { billingNow } from "./billing-clock.js";
import { chargeInvoice, createDefaultPayment } from "./invoice-payment-flow.js";
import { wireDecimal } from "./prices.js";

declare module "../state.js" {
  interface ObjectTypes {
    invoice: Stripe.Invoice;
  }
}

type Reason = "subscription_create" | "subscription_cycle";

const customerOf = (sub: Stripe.Subscription) =>
  typeof sub.customer === "string" ? sub.customer : sub.customer.id;

function line(
  sub: Stripe.Subscription,
  invoiceId: string,
  amount: number,
  period: Stripe.InvoiceLineItem.Period,
) {
  const item = sub.items.data[0]!;
  const product = typeof item.price.product === "string" ? item.price.product : item.price.product.id;
  const li: Stripe.InvoiceLineItem = {
    id: newId("il"),
    object: "line_item",
    amount,
    currency: sub.currency,
    description: `1 × ${item.price.nickname ?? product}`,
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: invoiceId,
    livemode: false,
    metadata: {},
    parent: {
      type: "subscription_item_details",
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: null,
        proration: false,
        proration_details: { credited_items: null },
        subscription: sub.id,
        subscription_item: item.id,
      },
    },
    period,
    pretax_credit_amounts: [],
    pricing: {
      type: "price_details",
      price_details: { price: item.price.id, product },
      unit_amount_decimal: item.price.unit_amount_decimal,
    },
    quantity: 1,
    quantity_decimal: wireDecimal(1),
    subscription: sub.id,
    subtotal: amount,
    taxes: [],
  };
  return li;
}

/**
 * The invoice for one period of a subscription, as Stripe bills it: created as a draft
 * (`invoice.created`), then finalized (`invoice.finalized`, status `open`, numbered). A trial's
 * invoice is for 0 and is paid at once; others wait for attemptPayment.
 */
export function openInvoice(
  ctx: ApiContext,
  sub: Stripe.Subscription,
  reason: Reason,
  period: { start: number; end: number },
  amount: number,
): Stripe.Invoice {
  const customerId = customerOf(sub);
  const customer = ctx.store.require(ctx.scope, "customer", customerId);
  const now = billingNow(ctx.store, customerId);
  const id = newId("in");
  const invoice: Stripe.Invoice = {
    id,
    object: "invoice",
    account_country: "US",
    account_name: "Coffer stand-in",
    account_tax_ids: null,
    amount_due: amount,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: amount,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: reason,
    collection_method: "charge_automatically",
    created: now,
    currency: sub.currency,
    custom_fields: null,
    customer: customerId,
    customer_account: null,
    customer_address: null,
    customer_email: customer.email,
    customer_name: customer.name ?? null,
    customer_phone: customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: {
      object: "list",
      data: [line(sub, id, amount, period)],
      has_more: false,
      url: `/v1/invoices/${id}/lines`,
    },
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: {
      type: "subscription_details",
      quote_details: null,
      subscription_details: { metadata: { ...sub.metadata }, subscription: sub.id },
    },
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: period.start,
    period_start: period.start,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: "draft",
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: amount,
    subtotal_excluding_tax: amount,
    test_clock: null,
    total: amount,
    total_discount_amounts: [],
    total_excluding_tax: amount,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
  ctx.store.insert(ctx.scope, "invoice", invoice);
  ctx.emit("invoice.created", invoice);
  invoice.status = "open";
  invoice.number = `${customer.invoice_prefix ?? "STANDIN"}-${String(customer.next_invoice_sequence ?? 1).padStart(4, "0")}`;
  customer.next_invoice_sequence = (customer.next_invoice_sequence ?? 1) + 1;
  invoice.status_transitions.finalized_at = now;
  invoice.effective_at = now;
  createDefaultPayment(ctx, invoice);
  ctx.emit("invoice.finalized", invoice);
  return invoice;
}

/** The card an invoice is charged to: the subscription's default, else the customer's. */
export function paymentMethodFor(
  ctx: ApiContext,
  sub: Stripe.Subscription,
): Stripe.PaymentMethod | undefined {
  const customer = ctx.store.require(ctx.scope, "customer", customerOf(sub));
  const id = sub.default_payment_method ?? customer.invoice_settings.default_payment_method;
  const pmId = typeof id === "string" ? id : id?.id;
  return pmId === undefined ? undefined : ctx.store.get(ctx.scope, "payment_method", pmId);
}

/**
 * Charges an open invoice off-session. Anything due is charged on the invoice's PaymentIntent
 * (invoice-payment-flow.ts: a Charge, and when paid its balance transaction). Paid:
 * `invoice.paid` then `invoice.payment_succeeded`. Declined, or a card that needs its holder to
 * authenticate, or no card at all: `invoice.payment_failed`, the invoice stays open. The stand-in
 * makes no automatic retries (Smart Retries); paying it again is `POST /v1/invoices/:id/pay`.
 */
export function attemptPayment(
  ctx: ApiContext,
  invoice: Stripe.Invoice,
  pm: Stripe.PaymentMethod | undefined,
): boolean {
  const now = billingNow(ctx.store, String(invoice.customer));
  const ok = invoice.amount_due === 0 || (pm !== undefined && chargeInvoice(ctx, invoice, pm));
  if (invoice.amount_due > 0) {
    invoice.attempted = true;
    invoice.attempt_count += 1;
  }
  if (!ok) {
    ctx.emit("invoice.payment_failed", invoice);
    return false;
  }
  invoice.status = "paid";
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.status_transitions.paid_at = now;
  ctx.emit("invoice.paid", invoice);
  ctx.emit("invoice.payment_succeeded", invoice);
  return true;
}
