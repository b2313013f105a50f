import { recordInvoicePayment } from "../db/stores/invoice-payments.js";
import { postPosting } from "../db/stores/ledger.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { invoicePaid } from "../ledger/movements.js";
import type { Posting } from "../ledger/types.js";
import { isKnownCurrency } from "../money/currencies.js";
import type { InvoicePaymentView } from "../stripe/billing-snapshots.js";
import type { FlowDeps } from "./deps.js";
import type { EventCtx } from "./payment-intent.js";
import { reclaimPaymentLines } from "./reconcile-reclaim.js";

/**
 * `invoice_payment.paid`: a subscription invoice was paid by a charge, so Stripe holds the money
 * for the platform. Books `in_…:paid` (stripe → subscription_revenue, the amount paid) and
 * records which PaymentIntent paid it, in one transaction: the balance-transaction stream traces
 * the charge's line through that record to the key, and books Stripe's fee on it (`txn_…:fee`)
 * as on any charge; a line it read before this was known is claimed again here
 * (reconcile-reclaim.ts). Copies of the event, and the line read before or after, land on the same
 * keys. The snapshot is final (paid) and carries all the posting needs: nothing is fetched.
 * Whose subscription it is does not matter here: any invoice paid on the platform's account is
 * money in its balance, and the books cover all of it.
 */
export async function bookInvoicePayment(
  deps: FlowDeps,
  payment: InvoicePaymentView,
  ev: Omit<EventCtx, "finish">,
): Promise<string> {
  if (payment.status !== "paid") return "invoice_payment_not_paid";
  // Paid out of band or from the customer's credit balance: no charge, no money at Stripe.
  if (payment.paymentIntentId === null) return "not_paid_by_charge";
  const amountMinor = payment.amountPaidMinor ?? 0;
  if (amountMinor <= 0) return "nothing_paid";
  if (!isKnownCurrency(payment.currency)) {
    throw new DomainError(
      "currency_unknown",
      `invoice payment ${payment.id} is in ${payment.currency}, a currency Coffer does not know`,
    );
  }
  const posting = invoicePaid(payment.invoiceId, { amountMinor, currency: payment.currency });
  let booked: Posting[] = [];
  const applied = await withTransaction(deps.db, async (trx) => {
    booked = []; // a deadlock retry runs this again from the start
    await recordInvoicePayment(trx, {
      id: payment.id,
      invoiceId: payment.invoiceId,
      paymentIntentId: payment.paymentIntentId!,
      amountMinor,
      currency: payment.currency,
      eventId: ev.eventId,
    });
    const first = await postPosting(trx, posting, { eventId: ev.eventId });
    if (first.applied) booked.push(posting);
    booked.push(...(await reclaimPaymentLines(trx, payment.paymentIntentId!, payment.invoiceId)));
    return first.applied;
  });
  for (const p of booked) deps.metrics.postings.inc({ kind: p.kind });
  ev.log.info(
    { invoice_id: payment.invoiceId, payment_intent_id: payment.paymentIntentId, applied },
    "subscription invoice payment booked",
  );
  return applied ? "booked" : "already_booked";
}
