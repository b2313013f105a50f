import Stripe from "stripe";
import { withTransaction } from "../db/transaction.js";
import { attachPaymentIntent, insertCreating, updateTopUp, type TopUpRow } from "../db/stores/top-ups.js";
import { DomainError } from "../ledger/errors.js";
import { newId } from "../ids.js";
import type { Currency } from "../money/currencies.js";
import { classifyStripeError, rateLimitedError, stripeRateLimit } from "../stripe/errors.js";
import type { FlowDeps } from "./deps.js";

export interface TopUpRequest {
  userId: string;
  idempotencyKey: string;
  amountMinor: number;
  currency: Currency;
}

/**
 * Creates a top-up: our row first (so the PaymentIntent's metadata can name
 * it), then the PaymentIntent under an idempotency key derived from the row,
 * then the row gets the PaymentIntent id. A retry of the same client request
 * finds the same row, sends the same Stripe key and so gets the same
 * PaymentIntent back, even if the first attempt timed out after Stripe acted.
 */
export async function createTopUp(deps: FlowDeps, req: TopUpRequest): Promise<TopUpRow> {
  const row = await withTransaction(deps.db, (trx) =>
    insertCreating(trx, {
      id: newId("top"),
      userId: req.userId,
      idempotencyKey: req.idempotencyKey,
      amountMinor: req.amountMinor,
      currency: req.currency,
      livemode: deps.config.STRIPE_LIVEMODE,
    }),
  );
  if (row.amount_minor !== req.amountMinor || row.currency !== req.currency) {
    throw new DomainError(
      "idempotency_key_reused",
      "this Idempotency-Key was used with a different request body",
    );
  }
  if (row.payment_intent_id) return row;

  let pi: Stripe.PaymentIntent;
  try {
    pi = await deps.stripe.paymentIntents.create(
      {
        amount: req.amountMinor,
        currency: req.currency,
        automatic_payment_methods: { enabled: true },
        metadata: { user_id: req.userId, purpose: "wallet_top_up", top_up_id: row.id },
      },
      { idempotencyKey: `${row.id}:payment_intent` },
    );
  } catch (err) {
    throw await stripeFailure(deps, row, err);
  }
  return attachPaymentIntent(deps.db, row.id, {
    id: pi.id,
    status: pi.status,
    clientSecret: pi.client_secret,
  });
}

async function stripeFailure(deps: FlowDeps, row: TopUpRow, err: unknown): Promise<Error> {
  // Rate limited (our budget or Stripe): nothing was created; the row stays `creating` for the retry.
  const limited = stripeRateLimit(err);
  if (limited) return rateLimitedError(limited);
  const kind = classifyStripeError(err);
  if (kind === "transient" || kind === "idempotency" || kind === null) {
    // Stripe may or may not have acted; the row stays `creating` and a retry with the same key resolves it.
    deps.log.warn({ err, top_up_id: row.id }, "stripe unavailable while creating a PaymentIntent");
    const timeout = err instanceof Stripe.errors.StripeConnectionError;
    return new DomainError(
      timeout ? "stripe_unavailable" : "stripe_error",
      "Stripe did not answer; retry with the same Idempotency-Key",
    );
  }
  await updateTopUp(deps.db, row.id, { status: "failed" });
  const message = err instanceof Error ? err.message : "Stripe refused the payment";
  return new DomainError("stripe_rejected", `Stripe refused the top-up: ${message}`);
}
