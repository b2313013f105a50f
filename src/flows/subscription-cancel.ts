import {
  getSubscriptionForUser,
  lockSubscription,
  type SubscriptionRow,
} from "../db/stores/subscriptions.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { ENDED_SUBSCRIPTION_STATUSES } from "../ledger/subscriptions.js";
import { subscription as readSubscription } from "../stripe/billing-snapshots.js";
import { classifyStripeError } from "../stripe/errors.js";
import type { FlowDeps } from "./deps.js";
import { requestSecond } from "./mirror-fetch.js";
import { mirrorSubscription, settleSubscription } from "./subscription-mirror.js";

/**
 * `DELETE /v1/subscriptions/:id`: cancellation at the end of the period, at Stripe, then the
 * answer mirrored. Idempotent by state: under the row lock, a subscription already set to cancel
 * (or ended) is 409, so two concurrent requests make one call. The Stripe key names the state it
 * changes (the row's as-of), so asking again after someone undid the cancellation in Stripe's
 * Dashboard is a new request, not a replay of the old answer.
 */
export async function cancelAtPeriodEnd(
  deps: FlowDeps,
  userId: string,
  id: string,
): Promise<SubscriptionRow> {
  const answered = await withTransaction(deps.db, async (trx) => {
    const row = await lockSubscription(trx, id);
    if (!row || row.user_id !== userId) throw new DomainError("not_found", "no such subscription");
    if (row.cancel_at_period_end || ENDED_SUBSCRIPTION_STATUSES.includes(row.status)) {
      throw new DomainError(
        "subscription_not_cancelable",
        row.cancel_at_period_end
          ? "this subscription ends at the end of its period already"
          : `this subscription is ${row.status}`,
        { status: row.status },
      );
    }
    const asOf = requestSecond();
    let updated;
    try {
      updated = await deps.stripe.subscriptions.update(
        id,
        { cancel_at_period_end: true, expand: ["latest_invoice"] },
        { idempotencyKey: `${id}:cancel_at_period_end:${row.stripe_updated}` },
      );
    } catch (err) {
      if (classifyStripeError(err) !== "invalid") throw err;
      // Stripe knows it ended (its event has not arrived yet): nothing left to cancel.
      throw new DomainError("subscription_not_cancelable", `Stripe refused: ${(err as Error).message}`, {
        status: row.status,
      });
    }
    const owner = { userId, customerId: row.customer_id ?? "", setupId: row.setup_id };
    const view = readSubscription(updated);
    return { owner, view, asOf, decision: await mirrorSubscription(trx, owner, view, asOf) };
  });
  // Stripe's answer tied with an event of the same second: settled by fetching, after the lock.
  if (answered.decision === "refetch")
    await settleSubscription(deps, answered.owner, answered.view, answered.asOf);
  return (await getSubscriptionForUser(deps.db, userId, id))!;
}
