import type Stripe from "stripe";
import { lockCustomer } from "../db/stores/customers.js";
import { lockSetup, updateSetup, type SetupRow } from "../db/stores/subscription-setups.js";
import { withTransaction } from "../db/transaction.js";
import { LIVE_SUBSCRIPTION_STATUSES } from "../ledger/subscriptions.js";
import type { Logger } from "../logger.js";
import { subscription as readSubscription, type SubscriptionView } from "../stripe/billing-snapshots.js";
import { classifyStripeError, stripeRateLimit } from "../stripe/errors.js";
import type { FlowDeps } from "./deps.js";
import { requestSecond } from "./mirror-fetch.js";
import { mirrorSubscription, settleSubscription, type Owner } from "./subscription-mirror.js";

/**
 * The customer's subscriptions, every status: the one made from this setup (found by its
 * metadata, so a retry after Stripe's 24-hour key window finds what the first attempt made), and
 * any other live one to the same price.
 */
async function existing(
  stripe: Stripe,
  setup: SetupRow,
): Promise<{ mine?: Stripe.Subscription; rival?: Stripe.Subscription }> {
  const found: { mine?: Stripe.Subscription; rival?: Stripe.Subscription } = {};
  for await (const s of stripe.subscriptions.list({
    customer: setup.customer_id!,
    status: "all",
    limit: 100,
  })) {
    if (s.metadata?.setup_id === setup.id) found.mine = s;
    else if (
      LIVE_SUBSCRIPTION_STATUSES.includes(s.status) &&
      s.items.data.some((i) => i.price.id === setup.price_id)
    )
      found.rival = s;
  }
  return found;
}

/**
 * Makes the subscription of a setup whose card Stripe saved, exactly once however often and
 * however concurrently its event is worked:
 * - under the setup's row lock, then the customer's (one creation at a time per user: two setups
 *   of one price that succeed together cannot both subscribe), a setup that has its subscription
 *   is done;
 * - otherwise the customer's subscriptions are listed first, and one carrying this setup's id is
 *   taken (a create that timed out after Stripe acted, even past the key window); a live one to
 *   the same price from another setup means the user holds the price already, and none is made;
 * - only then is it created, under `seti_…:subscription`, with the trial the price defines.
 * The Stripe calls happen inside the transaction on purpose: the locks must cover them. A refusal
 * by Stripe (the price archived since, the card gone) is recorded on the setup and alerted.
 */
export async function createSubscriptionOnce(
  deps: FlowDeps,
  setupId: string,
  paymentMethodId: string,
  log: Logger,
): Promise<string> {
  const made: { result: string; tie?: { owner: Owner; view: SubscriptionView; asOf: number } } =
    await withTransaction(deps.db, async (trx) => {
      const setup = (await lockSetup(trx, setupId))!;
      if (setup.subscription_id) return { result: "subscription_exists" };
      await lockCustomer(trx, setup.user_id);
      const found = await existing(deps.stripe, setup);
      if (!found.mine && found.rival) {
        await updateSetup(trx, setup.id, {
          last_error: `already subscribed to ${setup.price_id} (${found.rival.id})`,
        });
        log.warn(
          { setup_id: setup.id, subscription_id: found.rival.id },
          "setup not subscribed: the user holds the price already",
        );
        return { result: "already_subscribed" };
      }
      const asOf = requestSecond();
      let sub = found.mine;
      if (!sub) {
        try {
          sub = await deps.stripe.subscriptions.create(
            {
              customer: setup.customer_id!,
              items: [{ price: setup.price_id }],
              default_payment_method: paymentMethodId,
              off_session: true,
              trial_from_plan: true,
              payment_behavior: "allow_incomplete",
              metadata: { user_id: setup.user_id, setup_id: setup.id, price_id: setup.price_id },
              expand: ["latest_invoice"],
            },
            { idempotencyKey: `${setup.setup_intent_id}:subscription` },
          );
        } catch (err) {
          if (stripeRateLimit(err) || classifyStripeError(err) !== "invalid") throw err;
          const message = err instanceof Error ? err.message : String(err);
          await updateSetup(trx, setup.id, { last_error: `Stripe refused the subscription: ${message}` });
          log.error({ setup_id: setup.id, err, alert: true }, "Stripe refused to create the subscription");
          return { result: "subscription_refused" };
        }
      }
      await updateSetup(trx, setup.id, { subscription_id: sub.id, last_error: null });
      const owner = { userId: setup.user_id, customerId: setup.customer_id!, setupId: setup.id };
      const view = readSubscription(sub);
      const decision = await mirrorSubscription(trx, owner, view, asOf);
      log.info(
        { setup_id: setup.id, subscription_id: sub.id, found: Boolean(found.mine) },
        "subscription made from setup",
      );
      const result = found.mine ? "subscription_found" : "subscription_created";
      return { result, ...(decision === "refetch" && { tie: { owner, view, asOf } }) };
    });
  // Stripe's answer tied with an event of the same second: settled by fetching, after the locks.
  if (made.tie) await settleSubscription(deps, made.tie.owner, made.tie.view, made.tie.asOf);
  return made.result;
}
