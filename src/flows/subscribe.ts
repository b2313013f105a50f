import Stripe from "stripe";
import { getPlan } from "../db/stores/plans.js";
import {
  attachSetupIntent,
  getSetupByKey,
  insertCreatingSetup,
  updateSetup,
  type SetupRow,
} from "../db/stores/subscription-setups.js";
import { hasSubscriptionTo } from "../db/stores/subscriptions.js";
import { newId } from "../ids.js";
import { DomainError } from "../ledger/errors.js";
import { LIVE_SUBSCRIPTION_STATUSES } from "../ledger/subscriptions.js";
import { classifyStripeError, rateLimitedError, stripeRateLimit } from "../stripe/errors.js";
import { ensureCustomer } from "./customers.js";
import type { FlowDeps } from "./deps.js";

export interface SubscribeRequest {
  userId: string;
  idempotencyKey: string;
  priceId: string;
}

/**
 * What a subscription to the price needs, checked before anything is written or sent: a plan
 * Coffer mirrors as active, in a wallet currency, that the user does not hold already.
 */
export async function checkSubscribable(deps: FlowDeps, userId: string, priceId: string): Promise<void> {
  const plan = await getPlan(deps.db, priceId);
  if (!plan || !plan.active || plan.interval === null) {
    throw new DomainError("price_unavailable", `no active plan has price ${priceId}`, { param: "price_id" });
  }
  if (!deps.config.WALLET_CURRENCIES.includes(plan.currency)) {
    throw new DomainError("currency_not_supported", `plans in ${plan.currency} are not offered`, {
      param: "price_id",
      supported: deps.config.WALLET_CURRENCIES,
    });
  }
  if (await hasSubscriptionTo(deps.db, userId, priceId, LIVE_SUBSCRIPTION_STATUSES)) {
    throw new DomainError("already_subscribed", `you are subscribed to ${priceId} already`, {
      param: "price_id",
    });
  }
}

/**
 * Starts a subscription: our setup row first (so the SetupIntent's metadata can name it), then
 * the customer, then a SetupIntent for off-session use under a key derived from the row, then
 * the row gets the intent. A retry of the same client request finds the same row and sends the
 * same keys, so it gets the same intent back even if the first attempt timed out after Stripe
 * acted. The subscription itself is made when Stripe reports the card saved (setup-intent.ts).
 */
export async function createSetup(deps: FlowDeps, req: SubscribeRequest): Promise<SetupRow> {
  // A retry of a request that already has its setup gets it back, whatever happened since.
  const earlier = await getSetupByKey(deps.db, req.userId, req.idempotencyKey);
  if (!earlier) await checkSubscribable(deps, req.userId, req.priceId);
  const row = await insertCreatingSetup(deps.db, {
    id: newId("sset"),
    userId: req.userId,
    idempotencyKey: req.idempotencyKey,
    priceId: req.priceId,
  });
  if (row.price_id !== req.priceId) {
    throw new DomainError(
      "idempotency_key_reused",
      "this Idempotency-Key was used with a different request body",
    );
  }
  if (row.setup_intent_id) return row;
  try {
    const customerId = await ensureCustomer(deps, req.userId);
    const si = await deps.stripe.setupIntents.create(
      {
        customer: customerId,
        usage: "off_session",
        allowed_payment_method_types: ["card"],
        metadata: { user_id: req.userId, price_id: req.priceId, setup_id: row.id },
      },
      { idempotencyKey: `${row.id}:setup_intent` },
    );
    const attached = await attachSetupIntent(deps.db, row.id, {
      id: si.id,
      customerId,
      clientSecret: si.client_secret,
      status: si.status,
    });
    if (!attached) throw new Error(`setup ${row.id} is bound to another SetupIntent than ${si.id}`);
    return attached;
  } catch (err) {
    throw await stripeFailure(deps, row, err);
  }
}

async function stripeFailure(deps: FlowDeps, row: SetupRow, err: unknown): Promise<Error> {
  const limited = stripeRateLimit(err);
  if (limited) return rateLimitedError(limited);
  const kind = classifyStripeError(err);
  if (kind === "transient" || kind === "idempotency") {
    // Stripe may have acted; the row stays `creating` and a retry with the same key resolves it.
    deps.log.warn({ err, setup_id: row.id }, "Stripe unavailable while creating a SetupIntent");
    const timeout = err instanceof Stripe.errors.StripeConnectionError;
    return new DomainError(
      timeout ? "stripe_unavailable" : "stripe_error",
      "Stripe did not answer; retry with the same Idempotency-Key",
    );
  }
  if (kind === null) return err instanceof Error ? err : new Error(String(err));
  await updateSetup(deps.db, row.id, {
    status: "failed",
    last_error: err instanceof Error ? err.message : String(err),
  });
  return new DomainError(
    "stripe_rejected",
    `Stripe refused the setup: ${err instanceof Error ? err.message : ""}`,
  );
}
