import { z } from "zod";
import { read } from "./snapshots.js";

/**
 * The fields of Stripe's Billing objects that Coffer mirrors, read from an event's `data.object`
 * or an API answer alike (see snapshots.ts). Since API version 2025-03-31 a subscription's periods
 * live on its items and an invoice names its subscription under `parent.subscription_details`;
 * the older top-level fields are read where the new ones are absent.
 */
const id = z.string().min(1).max(255);
const ref = z.union([id, z.object({ id }).transform((o) => o.id)]);
const seconds = z.number().int().nonnegative();
const metadata = z
  .record(z.string(), z.string())
  .nullish()
  .transform((m) => m ?? {});

const productSchema = z.object({
  object: z.literal("product"),
  id,
  name: z.string().max(5000).default(""),
  active: z.boolean().default(false),
  deleted: z.boolean().optional(),
});

const priceSchema = z.object({
  object: z.literal("price"),
  id,
  active: z.boolean(),
  currency: z.string().regex(/^[a-z]{3}$/),
  unit_amount: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable(),
  product: z.union([id, productSchema]),
  recurring: z
    .object({
      interval: z.string().min(1).max(20),
      interval_count: z.number().int().positive(),
      trial_period_days: z.number().int().nonnegative().nullish(),
    })
    .nullable(),
});

export interface ProductView {
  id: string;
  name: string;
  active: boolean;
  deleted: boolean;
}

export interface PriceView {
  id: string;
  productId: string;
  /** Present when the product was expanded (`expand[]=data.product`). */
  product: ProductView | null;
  active: boolean;
  currency: string;
  unitAmountMinor: number | null;
  interval: string | null;
  intervalCount: number | null;
  trialPeriodDays: number | null;
}

const productView = (p: z.infer<typeof productSchema>): ProductView => ({
  id: p.id,
  name: p.name,
  active: p.active && !p.deleted,
  deleted: p.deleted ?? false,
});

export function product(obj: unknown): ProductView {
  return productView(read(productSchema, obj, "product"));
}

export function price(obj: unknown): PriceView {
  const p = read(priceSchema, obj, "price");
  const expanded = typeof p.product === "string" ? null : productView(p.product);
  return {
    id: p.id,
    productId: typeof p.product === "string" ? p.product : p.product.id,
    product: expanded,
    active: p.active,
    currency: p.currency,
    unitAmountMinor: p.unit_amount,
    interval: p.recurring?.interval ?? null,
    intervalCount: p.recurring?.interval_count ?? null,
    trialPeriodDays: p.recurring?.trial_period_days ?? null,
  };
}

const setupIntentSchema = z.object({
  object: z.literal("setup_intent"),
  id,
  status: z.string().min(1).max(64),
  customer: ref.nullish(),
  payment_method: ref.nullish(),
  metadata,
  last_setup_error: z.object({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});

export interface SetupIntentView {
  id: string;
  status: string;
  customerId: string | null;
  paymentMethodId: string | null;
  metadata: Record<string, string>;
  /** Stripe's reason for the last failed attempt, if the intent is back at requires_payment_method. */
  lastError: string | null;
}

export function setupIntent(obj: unknown): SetupIntentView {
  const s = read(setupIntentSchema, obj, "SetupIntent");
  const e = s.last_setup_error;
  return {
    id: s.id,
    status: s.status,
    customerId: s.customer ?? null,
    paymentMethodId: s.payment_method ?? null,
    metadata: s.metadata,
    lastError: e ? [e.code, e.message].filter(Boolean).join(": ") || "setup failed" : null,
  };
}

const invoiceSchema = z.object({
  object: z.literal("invoice"),
  id,
  status: z.string().max(64).nullable(),
  created: seconds,
  customer: ref.nullish(),
  amount_due: z.number().int(),
  currency: z.string().regex(/^[a-z]{3}$/),
  attempt_count: z.number().int().nonnegative(),
  next_payment_attempt: seconds.nullish(),
  subscription: ref.nullish(),
  parent: z.object({ subscription_details: z.object({ subscription: ref }).nullish() }).nullish(),
});

export interface InvoiceView {
  id: string;
  status: string | null;
  /** When the invoice was made: which of a subscription's invoices is the latest. */
  createdS: number;
  customerId: string | null;
  subscriptionId: string | null;
  amountDueMinor: number;
  currency: string;
  attemptCount: number;
  nextPaymentAttempt: number | null;
}

export function invoice(obj: unknown): InvoiceView {
  const i = read(invoiceSchema, obj, "invoice");
  return {
    id: i.id,
    status: i.status,
    createdS: i.created,
    customerId: i.customer ?? null,
    subscriptionId: i.parent?.subscription_details?.subscription ?? i.subscription ?? null,
    amountDueMinor: i.amount_due,
    currency: i.currency,
    attemptCount: i.attempt_count,
    nextPaymentAttempt: i.next_payment_attempt ?? null,
  };
}

const subscriptionSchema = z.object({
  object: z.literal("subscription"),
  id,
  status: z.string().min(1).max(64),
  customer: ref,
  cancel_at_period_end: z.boolean(),
  canceled_at: seconds.nullable(),
  ended_at: seconds.nullish(),
  trial_end: seconds.nullable(),
  current_period_start: seconds.optional(),
  current_period_end: seconds.optional(),
  metadata,
  latest_invoice: z.union([id, invoiceSchema]).nullish(),
  items: z.object({
    data: z
      .array(
        z.object({
          price: z.object({ id }),
          current_period_start: seconds.optional(),
          current_period_end: seconds.optional(),
        }),
      )
      .min(1),
  }),
});

/** A subscription's latest invoice, as the row mirrors it. */
export interface LatestInvoiceView {
  id: string;
  status: string | null;
  createdS: number;
}

export interface SubscriptionView {
  id: string;
  status: string;
  customerId: string;
  priceId: string;
  currentPeriodStart: number | null;
  currentPeriodEnd: number | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: number | null;
  endedAt: number | null;
  trialEnd: number | null;
  metadata: Record<string, string>;
  /** Only when the latest invoice was expanded (a fetch), never from an event's id. */
  latestInvoice: LatestInvoiceView | null;
}

export function subscription(obj: unknown): SubscriptionView {
  const s = read(subscriptionSchema, obj, "subscription");
  const item = s.items.data[0]!;
  const latest = typeof s.latest_invoice === "object" && s.latest_invoice !== null ? s.latest_invoice : null;
  return {
    id: s.id,
    status: s.status,
    customerId: s.customer,
    priceId: item.price.id,
    currentPeriodStart: item.current_period_start ?? s.current_period_start ?? null,
    currentPeriodEnd: item.current_period_end ?? s.current_period_end ?? null,
    cancelAtPeriodEnd: s.cancel_at_period_end,
    canceledAt: s.canceled_at,
    endedAt: s.ended_at ?? null,
    trialEnd: s.trial_end,
    metadata: s.metadata,
    latestInvoice: latest && { id: latest.id, status: latest.status, createdS: latest.created },
  };
}

const invoicePaymentSchema = z.object({
  object: z.literal("invoice_payment"),
  id,
  invoice: ref,
  status: z.string().min(1).max(64),
  amount_paid: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable(),
  currency: z.string().regex(/^[a-z]{3}$/),
  payment: z.object({ type: z.string().min(1).max(64), payment_intent: ref.nullish() }),
});

/** An InvoicePayment (`inpay_…`): on the pinned API version, the only link from an invoice to its PaymentIntent. */
export interface InvoicePaymentView {
  id: string;
  invoiceId: string;
  status: string;
  amountPaidMinor: number | null;
  currency: string;
  /** Set when Stripe charged the invoice through a PaymentIntent (`payment.type = payment_intent`). */
  paymentIntentId: string | null;
}

export function invoicePayment(obj: unknown): InvoicePaymentView {
  const p = read(invoicePaymentSchema, obj, "invoice payment");
  return {
    id: p.id,
    invoiceId: p.invoice,
    status: p.status,
    amountPaidMinor: p.amount_paid,
    currency: p.currency,
    paymentIntentId: p.payment.type === "payment_intent" ? (p.payment.payment_intent ?? null) : null,
  };
}
