import type Stripe from "stripe";
import { lockBalances, setPending } from "../db/stores/balances.js";
import { postPosting } from "../db/stores/ledger.js";
import {
  capturableSum,
  insertUnrecognized,
  lockByPaymentIntent,
  PI_STATUS_RANK,
  updateTopUp,
  type TopUpRow,
} from "../db/stores/top-ups.js";
import { withTransaction, type Trx } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { FX, STRIPE } from "../ledger/accounts.js";
import { fxSettlement, paymentCaptured, processingFee, type Via } from "../ledger/movements.js";
import type { Posting } from "../ledger/types.js";
import { newId } from "../ids.js";
import { isKnownCurrency, type Currency } from "../money/currencies.js";
import type { FlowDeps } from "./deps.js";

export interface EventCtx {
  eventId: string;
  log: FlowDeps["log"];
}

export type SyncOutcome = "credited" | "already_credited" | "pending" | "no_money" | "unrecognized";

/**
 * Brings our books in line with what Stripe says about a PaymentIntent *now*.
 * Every payments event (`payment_intent.*`, `charge.succeeded`, `charge.captured`)
 * lands here, so the result cannot depend on which of them arrives first or
 * how often: the current object is fetched, and the credit is keyed by the
 * PaymentIntent (`pi_…:captured`) and the fee by the balance transaction.
 */
export async function syncPaymentIntent(deps: FlowDeps, piId: string, ev: EventCtx): Promise<SyncOutcome> {
  // Fetched outside the transaction: no row lock is held across a network call.
  const pi = await deps.stripe.paymentIntents.retrieve(piId, {
    expand: ["latest_charge.balance_transaction"],
  });
  let posted: Posting[] = [];
  const outcome = await withTransaction(deps.db, async (trx) => {
    posted = []; // a deadlock retry runs this again from the start
    // Lock order: the payment row, then balance rows (inside postPosting / lockBalances).
    const row = await lockByPaymentIntent(trx, pi.id, pi.metadata?.top_up_id);
    // Not ours: recorded once; its sibling events find that record and move nothing either.
    if (!row || row.purpose === "unrecognized") return recordUnrecognized(trx, pi, ev);
    const userId = checkOwnership(row, pi);
    const currency = row.currency as Currency;

    if (pi.status === "succeeded") {
      const settlement = settlementOf(pi, currency);
      const credit = paymentCaptured(
        pi.id,
        userId,
        { amountMinor: pi.amount_received, currency },
        settlement.via,
      );
      const first = await postPosting(trx, credit, { eventId: ev.eventId });
      if (first.applied) posted.push(credit);
      for (const p of settlement.postings) {
        if ((await postPosting(trx, p, { eventId: ev.eventId })).applied) posted.push(p);
      }
      await updateTopUp(trx, row.id, {
        status: "succeeded",
        amount_received_minor: pi.amount_received,
        amount_capturable_minor: 0,
        charge_id: settlement.chargeId,
        balance_transaction_id: settlement.txnId,
        fee_minor: settlement.feeMinor,
        settlement_currency: settlement.settlementCurrency,
        payment_intent_id: pi.id,
        event_id: ev.eventId,
      });
      await refreshPending(trx, userId, currency);
      return first.applied ? "credited" : "already_credited";
    }
    // Statuses only move forward: an older event cannot undo a capture or a cancel.
    if ((PI_STATUS_RANK[pi.status] ?? 0) < (PI_STATUS_RANK[row.status] ?? 0)) return "no_money";
    const capturable = pi.status === "requires_capture" ? pi.amount_capturable : 0;
    await updateTopUp(trx, row.id, {
      status: pi.status,
      amount_capturable_minor: capturable,
      payment_intent_id: pi.id,
      event_id: ev.eventId,
    });
    await refreshPending(trx, userId, currency);
    return pi.status === "requires_capture" ? "pending" : "no_money";
  });
  for (const p of posted) deps.metrics.postings.inc({ kind: p.kind });
  ev.log.info({ payment_intent_id: pi.id, stripe_status: pi.status, outcome }, "payment intent synced");
  return outcome;
}

/** The metadata must agree with the row found by PaymentIntent id; a disagreement is never credited. */
function checkOwnership(row: TopUpRow, pi: Stripe.PaymentIntent): string {
  const md = pi.metadata ?? {};
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
  if (pi.amount_received > row.amount_minor) {
    throw new DomainError(
      "payment_amount_mismatch",
      `PaymentIntent ${pi.id} received more than top-up ${row.id} asked for`,
    );
  }
  return row.user_id;
}

interface Settlement {
  /** Stripe's fee, and, for a converted charge, what entered Stripe in its own currency. */
  postings: Posting[];
  via: Via;
  chargeId: string;
  txnId: string;
  feeMinor: number;
  settlementCurrency: string | null;
}

/**
 * How the charge settled, from its balance transaction. In the charge's own currency
 * the credit comes from `stripe`. Converted (FX), it comes from `fx` in the charge's
 * currency and the settled amount enters `fx` from `stripe` in the settlement
 * currency, under the same `txn_…:fx` key the reconciliation stream uses.
 */
function settlementOf(pi: Stripe.PaymentIntent, currency: Currency): Settlement {
  const charge = pi.latest_charge;
  if (!charge || typeof charge === "string") {
    throw new DomainError(
      "stripe_charge_not_ready",
      `PaymentIntent ${pi.id} has no expanded charge yet`,
      {},
      false,
    );
  }
  const txn = charge.balance_transaction;
  if (!txn || typeof txn === "string") {
    // Stripe attaches the balance transaction shortly after capture; retry with backoff.
    throw new DomainError(
      "stripe_balance_transaction_not_ready",
      `charge ${charge.id} has no balance transaction yet`,
      {},
      false,
    );
  }
  if (!isKnownCurrency(txn.currency)) {
    throw new DomainError("currency_unknown", `charge ${charge.id} settled in unknown ${txn.currency}`);
  }
  const settled = txn.currency;
  const converted = settled !== currency;
  const postings: Posting[] = [];
  if (txn.fee > 0) postings.push(processingFee(txn.id, { amountMinor: txn.fee, currency: settled }));
  if (converted) postings.push(fxSettlement(txn.id, txn.amount, settled));
  return {
    postings,
    via: converted ? FX : STRIPE,
    chargeId: charge.id,
    txnId: txn.id,
    feeMinor: txn.fee,
    settlementCurrency: converted ? settled : null,
  };
}

async function refreshPending(trx: Trx, userId: string, currency: string): Promise<void> {
  await lockBalances(trx, [{ userId, currency }]);
  await setPending(trx, userId, currency, await capturableSum(trx, userId, currency));
}

async function recordUnrecognized(trx: Trx, pi: Stripe.PaymentIntent, ev: EventCtx): Promise<SyncOutcome> {
  if (pi.metadata?.purpose === "wallet_top_up") {
    // It claims to be ours but no top-up row exists: never credit on metadata alone.
    throw new DomainError(
      "unknown_top_up",
      `PaymentIntent ${pi.id} claims top-up ${pi.metadata.top_up_id ?? "?"} which does not exist`,
    );
  }
  await insertUnrecognized(trx, {
    id: newId("top"),
    piId: pi.id,
    amountMinor: pi.amount,
    currency: pi.currency,
    status: pi.status,
    livemode: pi.livemode,
    eventId: ev.eventId,
  });
  return "unrecognized";
}
