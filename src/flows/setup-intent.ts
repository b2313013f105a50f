import { findSetupOf, lockSetup, updateSetup, type SetupRow } from "../db/stores/subscription-setups.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { FINAL_SETUP_STATUSES, mirrorDecision, setupStatusOf } from "../ledger/subscriptions.js";
import { setupIntent as readSetupIntent, type SetupIntentView } from "../stripe/billing-snapshots.js";
import type { FlowDeps } from "./deps.js";
import { fetchAfter } from "./mirror-fetch.js";
import type { EventCtx } from "./payment-intent.js";
import { createSubscriptionOnce } from "./subscription-create.js";

/** The metadata must agree with the setup row Coffer wrote, or the intent is not that setup's. */
function checkOwner(setup: SetupRow, si: SetupIntentView): void {
  const bad =
    si.metadata.user_id !== setup.user_id ||
    (setup.setup_intent_id !== null && setup.setup_intent_id !== si.id) ||
    (setup.customer_id !== null && si.customerId !== setup.customer_id);
  if (bad) {
    throw new DomainError(
      "setup_owner_mismatch",
      `SetupIntent ${si.id} names setup ${setup.id}, which belongs to another user, intent or customer`,
    );
  }
}

/**
 * `setup_intent.succeeded`, `setup_failed`, `requires_action` and `canceled`: the setup's status
 * follows its intent (newest state wins; a tie is settled by fetching the intent), and once the
 * card is saved the subscription is made, exactly once (subscription-create.ts). A SetupIntent
 * Coffer did not make for a subscription is left alone.
 */
export async function syncSetupIntent(
  deps: FlowDeps,
  first: SetupIntentView,
  eventCreated: number,
  ev: EventCtx,
): Promise<string> {
  const setup = await findSetupOf(deps.db, first.id, first.metadata.setup_id);
  if (!setup) return "not_a_subscription_setup";
  checkOwner(setup, first);
  let [si, asOf] = [first, eventCreated];
  for (let round = 0; round < 4; round++) {
    const [state, when] = [si, asOf];
    const status = setupStatusOf({ status: state.status, hasError: state.lastError !== null });
    const decision = await withTransaction(deps.db, async (trx) => {
      const row = (await lockSetup(trx, setup.id))!;
      const d = mirrorDecision(
        { asOf: row.stripe_updated, final: FINAL_SETUP_STATUSES.includes(row.status) },
        { asOf: when, final: FINAL_SETUP_STATUSES.includes(status) },
        row.status === status,
      );
      if (d === "apply") {
        await updateSetup(trx, setup.id, {
          status,
          last_error: status === "failed" ? state.lastError : null,
          stripe_updated: when,
          setup_intent_id: state.id,
          customer_id: row.customer_id ?? state.customerId,
        });
      }
      return d;
    });
    if (decision !== "refetch") break;
    const fetched = await fetchAfter(when, () => deps.stripe.setupIntents.retrieve(state.id));
    [si, asOf] = [readSetupIntent(fetched.value), fetched.asOf];
  }
  if (si.status !== "succeeded")
    return `setup_${setupStatusOf({ status: si.status, hasError: si.lastError !== null })}`;
  if (!si.paymentMethodId)
    throw new DomainError("event_malformed", `succeeded SetupIntent ${si.id} has no payment_method`);
  return createSubscriptionOnce(deps, setup.id, si.paymentMethodId, ev.log);
}
