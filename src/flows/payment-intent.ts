import { refreshPendingMinor } from "../db/stores/balances.js";
import { postPosting } from "../db/stores/ledger.js";
import {
  findByPaymentIntent,
  insertUnrecognized,
  lockForPaymentIntent,
  PI_STATUS_RANK,
  recordSucceeded,
  updateTopUp,
  type TopUpRow,
} from "../db/stores/top-ups.js";
import { commitWith } from "../db/group-commit.js";
import type { Trx } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { paymentCaptured } from "../ledger/movements.js";
import type { Posting } from "../ledger/types.js";
import { newId } from "../ids.js";
import type { Currency } from "../money/currencies.js";
import { paymentIntent, type ChargeView, type PaymentIntentView } from "../stripe/snapshots.js";
import type { FlowDeps } from "./deps.js";
import { settlementPath, type SettlementPath } from "./settlement.js";

export interface EventCtx {
  eventId: string;
  log: FlowDeps["log"];
  /** When Coffer received the event; absent where no job runs it (processor-level callers). */
  receivedAtMs?: number;
  /**
   * Marks the event processed inside the given transaction, so it is `processed` exactly when
   * what it moved commits. Set only for the event's own command (handle-command.ts): a flow that
   * credits a payment on a refund's behalf must not finish the refund's event.
   */
  finish?: (trx: Trx) => Promise<void>;
}

export type SyncOutcome =
  "credited" | "already_credited" | "pending" | "no_money" | "unrecognized" | "foreign";

/**
 * Brings our books in line with a PaymentIntent. Every payments event lands
 * here, so the result cannot depend on which arrives first or how often: the
 * credit is keyed by the PaymentIntent (`pi_…:captured`). A signed event's
 * snapshot is Stripe's word and statuses only move forward, so the snapshot is
 * applied as it is; Stripe is asked only when there is none (a refund or dispute
 * arrived before its payment). Stripe's fee and a conversion's settled amount are
 * booked by the balance-transaction stream, not fetched per payment.
 */
export async function syncPaymentIntent(
  deps: FlowDeps,
  piId: string,
  ev: EventCtx,
  snapshot: PaymentIntentView | null = null,
): Promise<SyncOutcome> {
  const pi = snapshot ?? paymentIntent(await deps.stripe.paymentIntents.retrieve(piId));
  // Read before the transaction: no row lock is held across a network call.
  const path =
    pi.status === "succeeded" ? await settlementPath(deps, pi.currency, pi.id, pi.latestChargeId) : null;
  let posted: Posting[] = [];
  // What the transaction will lock, declared so that a group commit takes it up front in the
  // global order (src/db/group-commit.ts); the metadata names the owner the row must agree with.
  const locks = {
    payments: [{ paymentIntentId: pi.id, topUpId: pi.metadata.top_up_id }],
    balances: pi.metadata.user_id ? [{ userId: pi.metadata.user_id, currency: pi.currency }] : [],
  };
  const outcome = await commitWith(deps, locks, async (trx): Promise<SyncOutcome> => {
    posted = []; // a deadlock retry (or a batch run again one by one) runs this again from the start
    const result = await applyPaymentIntent(trx, pi, path, ev, posted);
    await ev.finish?.(trx);
    return result;
  });
  for (const p of posted) deps.metrics.postings.inc({ kind: p.kind });
  ev.log.info(
    { payment_intent_id: pi.id, stripe_status: pi.status, outcome, fetched: snapshot === null },
    "payment intent synced",
  );
  return outcome;
}

/** The transaction of syncPaymentIntent; `posted` collects the postings it applied, for the metrics. */
async function applyPaymentIntent(
  trx: Trx,
  pi: PaymentIntentView,
  path: SettlementPath | null,
  ev: EventCtx,
  posted: Posting[],
): Promise<SyncOutcome> {
  // Lock order: the payment row, then balance rows (inside postPosting / lockBalances).
  const found = await lockForPaymentIntent(trx, pi.id, pi.metadata.top_up_id);
  if (found.kind === "bound_elsewhere") return recordForeign(trx, pi, found.row, ev);
  const row = found.row;
  // Not ours: recorded once; its sibling events find that record and move nothing either.
  if (row?.purpose === "unrecognized") return "unrecognized";
  if (!row) return recordUnrecognized(trx, pi, ev);
  const userId = checkOwnership(row, pi);
  const currency = row.currency as Currency;

  if (pi.status === "succeeded") {
    const credit = paymentCaptured(pi.id, userId, { amountMinor: pi.amountReceived, currency }, path!.via);
    const first = await postPosting(trx, credit, { eventId: ev.eventId });
    if (first.applied) posted.push(credit);
    await recordSucceeded(trx, row.id, {
      paymentIntentId: pi.id,
      amountReceivedMinor: pi.amountReceived,
      chargeId: pi.latestChargeId,
      settlementCurrency: path!.settlementCurrency,
      eventId: ev.eventId,
    });
    await refreshPendingMinor(trx, userId, currency);
    return first.applied ? "credited" : "already_credited";
  }
  // Statuses only move forward: an older snapshot cannot undo a capture or a cancel.
  if ((PI_STATUS_RANK[pi.status] ?? 0) < (PI_STATUS_RANK[row.status] ?? 0)) return "no_money";
  const capturable = pi.status === "requires_capture" ? pi.amountCapturable : 0;
  await updateTopUp(trx, row.id, {
    status: pi.status,
    amount_capturable_minor: capturable,
    payment_intent_id: pi.id,
    event_id: ev.eventId,
  });
  await refreshPendingMinor(trx, userId, currency);
  return pi.status === "requires_capture" ? "pending" : "no_money";
}

/**
 * `charge.succeeded` / `charge.captured`. Once the payment is credited there is
 * nothing to do. Before that, a captured charge that carries its PaymentIntent's
 * metadata says all a credit needs: a PaymentIntent has at most one successful
 * charge, and `amount_received` is that charge's `amount_captured`. Anything less
 * certain (an uncaptured authorization, a charge without the metadata) asks Stripe.
 */
export async function syncCharge(deps: FlowDeps, charge: ChargeView, ev: EventCtx): Promise<SyncOutcome> {
  const piId = charge.paymentIntentId!;
  const known = await findByPaymentIntent(deps.db, piId);
  if (known?.purpose === "unrecognized") return "unrecognized";
  if (known?.status === "succeeded") return "already_credited";
  const complete = charge.captured && charge.status === "succeeded" && charge.metadata.purpose !== undefined;
  return syncPaymentIntent(
    deps,
    piId,
    ev,
    complete
      ? {
          id: piId,
          status: "succeeded",
          amount: charge.amount,
          amountReceived: charge.amountCaptured,
          amountCapturable: 0,
          currency: charge.currency,
          metadata: charge.metadata,
          latestChargeId: charge.id,
          livemode: charge.livemode,
        }
      : null,
  );
}

/** The metadata must agree with the row found by PaymentIntent id; a disagreement is never credited. */
function checkOwnership(row: TopUpRow, pi: PaymentIntentView): string {
  const md = pi.metadata;
  if (row.purpose !== "wallet_top_up" || !row.user_id) {
    throw new DomainError("payment_not_top_up", `PaymentIntent ${pi.id} is not a wallet top-up`);
  }
  if (
    md.purpose !== "wallet_top_up" ||
    md.user_id !== row.user_id ||
    (md.top_up_id && md.top_up_id !== row.id)
  ) {
    throw new DomainError(
      "payment_owner_mismatch",
      `PaymentIntent ${pi.id} metadata does not match top-up ${row.id}`,
    );
  }
  if (pi.currency !== row.currency) {
    throw new DomainError(
      "currency_mismatch",
      `PaymentIntent ${pi.id} is in ${pi.currency}, top-up ${row.id} in ${row.currency}`,
    );
  }
  if (pi.amountReceived > row.amount_minor) {
    throw new DomainError(
      "payment_amount_mismatch",
      `PaymentIntent ${pi.id} received more than top-up ${row.id} asked for`,
    );
  }
  return row.user_id;
}

async function recordUnrecognized(trx: Trx, pi: PaymentIntentView, ev: EventCtx): Promise<SyncOutcome> {
  if (pi.metadata.purpose === "wallet_top_up") {
    // It claims to be ours but no top-up row exists: never credit on metadata alone.
    throw new DomainError(
      "unknown_top_up",
      `PaymentIntent ${pi.id} claims top-up ${pi.metadata.top_up_id ?? "?"} which does not exist`,
    );
  }
  await insertForeign(trx, pi, ev);
  return "unrecognized";
}

/**
 * One top-up, one PaymentIntent: a second PaymentIntent naming a top-up that is
 * already bound to another credits nothing to it and never rebinds it. It is kept
 * as a PaymentIntent Coffer did not create, and a person is told: someone made a
 * payment with Coffer's metadata, and Stripe holds that money for no wallet.
 */
async function recordForeign(
  trx: Trx,
  pi: PaymentIntentView,
  topUp: TopUpRow,
  ev: EventCtx,
): Promise<SyncOutcome> {
  await insertForeign(trx, pi, ev);
  ev.log.error(
    { payment_intent_id: pi.id, top_up_id: topUp.id, bound_to: topUp.payment_intent_id, alert: true },
    "a second PaymentIntent names a top-up already bound to another: credited to no wallet",
  );
  return "foreign";
}

async function insertForeign(trx: Trx, pi: PaymentIntentView, ev: EventCtx): Promise<void> {
  await insertUnrecognized(trx, {
    id: newId("top"),
    piId: pi.id,
    amountMinor: pi.amount,
    currency: pi.currency,
    status: pi.status,
    livemode: pi.livemode,
    eventId: ev.eventId,
  });
}
