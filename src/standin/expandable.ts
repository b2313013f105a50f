/**
 * What Stripe lets `expand` reach on each object the stand-in serves: the fields stripe 23.1.0's
 * types declare as `string | <Object>` (an id or, expanded, the object), found by reading
 * node_modules/stripe/esm/resources/*.d.ts. A dotted entry crosses a plain hash on the way
 * (`transfer_data.destination`). Any other path is Stripe's 400 "This property cannot be
 * expanded", including hashes that are always there (`metadata`), arrays of objects that are
 * always expanded (a dispute's `balance_transactions`) and an event's `data.object`.
 *
 * Left out on purpose: evidence files on disputes and branding files on accounts (the stand-in
 * stores no files), and objects it does not store at all (reviews, mandates, tax codes).
 * Those are still listed where Stripe lists them, so a path that Stripe would take is refused
 * only because the object is missing, which says so in the stand-in's own words.
 */
export const EXPANDABLE: Readonly<Record<string, readonly string[]>> = {
  payment_intent: [
    "application",
    "customer",
    "latest_charge",
    "on_behalf_of",
    "payment_method",
    "payment_record",
    "review",
    "source",
    "transfer_data.destination",
  ],
  charge: [
    "application",
    "application_fee",
    "balance_transaction",
    "customer",
    "failure_balance_transaction",
    "on_behalf_of",
    "payment_intent",
    "refunds",
    "review",
    "source_transfer",
    "transfer",
    "transfer_data.destination",
  ],
  balance_transaction: ["source"],
  refund: [
    "balance_transaction",
    "charge",
    "customer",
    "failure_balance_transaction",
    "payment_intent",
    "payment_method",
    "source_transfer_reversal",
    "transfer_reversal",
  ],
  dispute: ["charge", "payment_intent"],
  transfer: ["balance_transaction", "destination", "destination_payment", "source_transaction"],
  transfer_reversal: ["balance_transaction", "destination_payment_refund", "source_refund", "transfer"],
  payout: [
    "application_fee",
    "balance_transaction",
    "destination",
    "failure_balance_transaction",
    "original_payout",
    "reversed_by",
  ],
  "financial_connections.account": ["ownership"],
  // Billing. A subscription's items always carry their price; `items.data.price.product` crosses
  // them to reach the product, as Stripe allows.
  product: ["default_price", "tax_code"],
  price: ["product"],
  customer: ["default_source", "invoice_settings.default_payment_method", "test_clock"],
  payment_method: ["customer"],
  setup_intent: ["application", "customer", "latest_attempt", "mandate", "on_behalf_of", "payment_method"],
  subscription: [
    "application",
    "customer",
    "default_payment_method",
    "default_source",
    "items",
    "latest_invoice",
    "on_behalf_of",
    "pending_setup_intent",
    "schedule",
    "test_clock",
  ],
  subscription_item: ["price"],
  invoice: [
    "application",
    "customer",
    "default_payment_method",
    "default_source",
    "latest_revision",
    "on_behalf_of",
    "parent.subscription_details.subscription",
    "test_clock",
  ],
  invoice_payment: ["invoice", "payment.charge", "payment.payment_intent", "payment.payment_record"],
};

/**
 * Fields Stripe leaves out of an object unless expanded, instead of giving an id: a charge's
 * `refunds` since API version 2022-11-15 ("The Charges object no longer auto-expands refunds").
 */
export const INCLUDABLE: Readonly<Record<string, readonly string[]>> = {
  charge: ["refunds"],
};
