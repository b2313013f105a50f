import { getCustomerByStripeId } from "../db/stores/customers.js";
import { recordNotification } from "../db/stores/notifications.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { notificationKey } from "../ledger/subscriptions.js";
import type { InvoiceView, SubscriptionView } from "../stripe/billing-snapshots.js";
import type { FlowDeps } from "./deps.js";
import { fetchAfter, requestSecond } from "./mirror-fetch.js";
import { fetchSubscription, mirrorInvoice, settleSubscription, type Owner } from "./subscription-mirror.js";

const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());

/**
 * Whose subscription it is: the user of Coffer's customer row. A customer Coffer did not make is
 * not a user's (null: nothing to mirror); metadata naming another user than the row is an error.
 */
async function ownerOf(
  deps: FlowDeps,
  customerId: string | null,
  metadata: Record<string, string>,
): Promise<Owner | null> {
  if (customerId === null) return null;
  const row = await getCustomerByStripeId(deps.db, customerId);
  if (!row) return null;
  if (metadata.user_id !== undefined && metadata.user_id !== row.user_id) {
    throw new DomainError(
      "subscription_owner_mismatch",
      `customer ${customerId} is ${row.user_id}'s, but the subscription's metadata names another user`,
    );
  }
  return { userId: row.user_id, customerId, setupId: metadata.setup_id ?? null };
}

/**
 * `customer.subscription.*`: the row follows the newest state. `trial_will_end` also records its
 * notification, once per subscription and trial end, whatever the order or copies.
 */
export async function syncSubscription(
  deps: FlowDeps,
  view: SubscriptionView,
  eventCreated: number,
  trialWillEnd: boolean,
): Promise<string> {
  const owner = await ownerOf(deps, view.customerId, view.metadata);
  if (!owner) return "not_a_coffer_customer";
  if (trialWillEnd && view.trialEnd !== null) {
    await recordNotification(deps.db, {
      user_id: owner.userId,
      kind: "trial_will_end",
      subscription_id: view.id,
      dedupe_key: notificationKey.trialWillEnd(view.id, view.trialEnd),
      payload: { subscription_id: view.id, price_id: view.priceId, trial_end: iso(view.trialEnd) },
    });
  }
  return settleSubscription(deps, owner, view, eventCreated);
}

/**
 * `invoice.paid` and `invoice.payment_failed`: the subscription's latest invoice follows the
 * newest invoice (by its own `created`), and that invoice's status the newest event about it. A failed payment records its notification, once per invoice. An invoice
 * of a subscription Coffer has no row for yet brings the subscription itself in, fetched.
 */
export async function syncInvoice(
  deps: FlowDeps,
  invoice: InvoiceView,
  eventCreated: number,
  paymentFailed: boolean,
): Promise<string> {
  const subId = invoice.subscriptionId;
  if (subId === null) return "not_a_subscription_invoice";
  const owner = await ownerOf(deps, invoice.customerId, {});
  if (!owner) return "not_a_coffer_customer";
  if (paymentFailed) {
    await recordNotification(deps.db, {
      user_id: owner.userId,
      kind: "invoice_payment_failed",
      subscription_id: subId,
      dedupe_key: notificationKey.paymentFailed(invoice.id),
      payload: {
        invoice_id: invoice.id,
        subscription_id: subId,
        amount_due_minor: invoice.amountDueMinor,
        currency: invoice.currency,
        attempt_count: invoice.attemptCount,
        next_payment_attempt: iso(invoice.nextPaymentAttempt),
      },
    });
  }
  const d = await withTransaction(deps.db, (trx) =>
    mirrorInvoice(
      trx,
      subId,
      { id: invoice.id, status: invoice.status, createdS: invoice.createdS },
      eventCreated,
    ),
  );
  if (d === "apply" || d === "skip")
    return d === "apply" ? `latest_invoice_${invoice.status}` : "invoice_unchanged";
  // No row yet: no tie to wait out, the subscription is fetched at once (as of the second asked).
  const fetched =
    d === "missing"
      ? await fetchAfter(requestSecond() - 1, () => fetchSubscription(deps, subId))
      : await fetchAfter(eventCreated, () => fetchSubscription(deps, subId));
  const full = await ownerOf(deps, fetched.value.customerId, fetched.value.metadata);
  return settleSubscription(deps, full ?? owner, fetched.value, fetched.asOf);
}
