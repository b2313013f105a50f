import type { Tx } from "../knex.js";

/**
 * Stripe's InvoicePayments that Coffer booked as subscription revenue. On the pinned API version
 * a Charge names its PaymentIntent but not its invoice; this table is how the balance-transaction
 * stream finds, for a charge's PaymentIntent, the invoice whose `in_…:paid` the line claims.
 */
export interface InvoicePaymentRow {
  id: string;
  invoiceId: string;
  paymentIntentId: string;
  amountMinor: number;
  currency: string;
  eventId: string | null;
}

/** Written in the posting's transaction; a copy of the event (or a sibling) changes nothing. */
export async function recordInvoicePayment(trx: Tx, row: InvoicePaymentRow): Promise<void> {
  await trx.raw(
    `INSERT INTO invoice_payments (id, invoice_id, payment_intent_id, amount_minor, currency, event_id)
     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [row.id, row.invoiceId, row.paymentIntentId, row.amountMinor, row.currency, row.eventId],
  );
}

/** The invoice each of these PaymentIntents paid, for those that paid one. */
export async function invoicesByPaymentIntent(
  trx: Tx,
  piIds: readonly string[],
): Promise<Map<string, string>> {
  if (piIds.length === 0) return new Map();
  const { rows } = await trx.raw<{ rows: Array<{ payment_intent_id: string; invoice_id: string }> }>(
    `SELECT payment_intent_id, invoice_id FROM invoice_payments WHERE payment_intent_id = ANY(?::text[])`,
    [[...piIds]],
  );
  return new Map(rows.map((r) => [r.payment_intent_id, r.invoice_id]));
}
