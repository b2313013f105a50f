import { DomainError } from "../ledger/errors.js";
import { findByPaymentIntent, type TopUpRow } from "../db/stores/top-ups.js";
import type { FlowDeps } from "./deps.js";
import { syncPaymentIntent, type EventCtx } from "./payment-intent.js";

/**
 * A refund or dispute may arrive before the payment it belongs to has been
 * credited (Stripe does not order events). Rather than wait for that event,
 * ask Stripe now: if the payment succeeded, credit it first, under the same
 * `pi_…:captured` key its own event would use, so it is still credited once.
 * Returns null when the PaymentIntent is not a wallet top-up, or was canceled uncaptured
 * (nothing was credited, so nothing can be refunded or disputed from the wallet).
 */
export async function ensureCredited(deps: FlowDeps, piId: string, ev: EventCtx): Promise<TopUpRow | null> {
  const known = await findByPaymentIntent(deps.db, piId);
  if (known?.purpose === "unrecognized") return null;
  if (known?.status === "succeeded") return known;
  if (known?.status === "canceled") return null; // final: never captured, nothing to take back
  const outcome = await syncPaymentIntent(deps, piId, ev);
  if (outcome === "unrecognized") return null;
  const row = await findByPaymentIntent(deps.db, piId);
  // An authorization canceled before capture: Stripe releases it as a refund that moved no money.
  if (row?.status === "canceled") return null;
  if (!row || row.status !== "succeeded") {
    // Stripe only refunds or disputes captured payments; not seeing the capture yet is transient.
    throw new DomainError("payment_not_captured", `PaymentIntent ${piId} is not captured yet`, {}, false);
  }
  return row;
}

/** The PaymentIntent a refund or dispute belongs to, asking Stripe for the charge only when the object lacks it. */
export async function paymentIntentOf(
  deps: FlowDeps,
  obj: { paymentIntentId: string | null; chargeId: string | null },
): Promise<string | null> {
  if (obj.paymentIntentId) return obj.paymentIntentId;
  if (!obj.chargeId) return null;
  const charge = await deps.stripe.charges.retrieve(obj.chargeId);
  return typeof charge.payment_intent === "string"
    ? charge.payment_intent
    : (charge.payment_intent?.id ?? null);
}

/** A rank at which a status is final (e.g. a refund `failed`, a dispute `won`). */
export const FINAL_RANK = 9;

/**
 * Statuses only move forward: a read older than what we stored cannot take it
 * back, and a final status never changes (two syncs can race, and the one that
 * read Stripe earlier may commit later).
 */
export function forwardStatus(
  stored: string | undefined,
  incoming: string,
  rank: Readonly<Record<string, number>>,
): string {
  if (stored === undefined) return incoming;
  const was = rank[stored] ?? 0;
  if (was >= FINAL_RANK) return stored;
  return (rank[incoming] ?? 0) >= was ? incoming : stored;
}
