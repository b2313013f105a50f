import { lockDispute, upsertDispute } from "../db/stores/disputes.js";
import { isPosted, postPosting } from "../db/stores/ledger.js";
import { lockByPaymentIntent, type TopUpRow } from "../db/stores/top-ups.js";
import { FX, STRIPE } from "../ledger/accounts.js";
import { withTransaction } from "../db/transaction.js";
import { disputePostings, forwardDisputeStatus, type DisputeState } from "../ledger/disputes.js";
import { DomainError } from "../ledger/errors.js";
import { disputeOpened } from "../ledger/movements.js";
import type { Posting } from "../ledger/types.js";
import type { Currency } from "../money/currencies.js";
import type { DisputeView } from "../stripe/snapshots.js";
import { ensureCredited, paymentIntentOf } from "./credit-first.js";
import type { FlowDeps } from "./deps.js";
import type { EventCtx } from "./payment-intent.js";

/**
 * Every `charge.dispute.*` event lands here with Stripe's snapshot of the
 * dispute: its status and the balance transactions Stripe booked on it, all the
 * dispute's money needs, so nothing is fetched. The state is turned into postings
 * by the pure `disputePostings`, each keyed by the dispute and the movement. So a
 * `closed` before `created`, or `funds_withdrawn` twice, ends in the same books as
 * in-order delivery: the user is debited once, whichever event comes first.
 */
export async function syncDispute(
  deps: FlowDeps,
  dispute: DisputeView,
  eventCreated: number,
  ev: EventCtx,
): Promise<string> {
  const piId = await paymentIntentOf(deps, dispute);
  const payment = piId ? await ensureCredited(deps, piId, ev) : null;
  if (!piId || !payment?.user_id) {
    ev.log.warn(
      { dispute_id: dispute.id },
      "dispute on a payment that is not a wallet top-up: no user money moves",
    );
    return "not_wallet_payment";
  }
  const userId = payment.user_id;
  let posted: Posting[] = [];
  await withTransaction(deps.db, async (trx) => {
    posted = []; // a deadlock retry runs this again from the start
    // Lock order: the payment row, then the dispute row, then balances (inside postPosting).
    const row = (await lockByPaymentIntent(trx, piId))!;
    if (dispute.currency !== row.currency) {
      throw new DomainError(
        "currency_mismatch",
        `dispute ${dispute.id} is in ${dispute.currency}, payment ${piId} in ${row.currency}`,
      );
    }
    if (dispute.amount > row.amount_received_minor) {
      throw new DomainError(
        "dispute_exceeds_payment",
        `dispute ${dispute.id} of ${dispute.amount} exceeds the ${row.amount_received_minor} payment ${piId} credited`,
      );
    }
    const stored = await lockDispute(trx, dispute.id);
    const status = forwardDisputeStatus(stored && { status: stored.status, asOf: stored.status_as_of }, {
      status: dispute.status,
      // Never a time ahead of ours (the event was received before this runs): a signed event
      // dated years ahead would otherwise freeze the status against every real update.
      asOf: Math.min(eventCreated, Math.floor(Date.now() / 1000)),
    });
    const money = { amountMinor: dispute.amount, currency: row.currency as Currency };
    const openedPosted = await isPosted(trx, disputeOpened(dispute.id, userId, money).key);
    const state = disputeState(dispute, userId, row, status.status, openedPosted);
    for (const p of disputePostings(state)) {
      if (p.kind === "dispute_fee") {
        // The reconciliation stream books this fee per balance transaction; if Stripe split it over
        // two lines the amounts differ. The user's debit must not fail for that: the conflict is
        // counted and the line check reports it.
        const fee = await trx
          .transaction((sp) => postPosting(sp, p, { eventId: ev.eventId }))
          .catch((err: unknown) => {
            if (!(err instanceof DomainError) || err.code !== "ledger_idempotency_conflict") throw err;
            deps.metrics.postingConflicts.inc();
            ev.log.error({ key: p.key, alert: true }, "dispute fee already booked with another amount");
            return null;
          });
        if (fee?.applied) posted.push(p);
        continue;
      }
      if ((await postPosting(trx, p, { eventId: ev.eventId })).applied) posted.push(p);
    }
    await upsertDispute(trx, {
      id: dispute.id,
      payment_intent_id: piId,
      charge_id: dispute.chargeId,
      user_id: userId,
      amount_minor: dispute.amount,
      currency: row.currency,
      status: status.status,
      status_as_of: status.asOf,
    });
  });
  for (const p of posted) deps.metrics.postings.inc({ kind: p.kind });
  const outcome = posted.length ? posted.map((p) => p.kind).join(",") : "no_new_money";
  ev.log.info({ dispute_id: dispute.id, stripe_status: dispute.status, outcome }, "dispute synced");
  return outcome;
}

/** Stripe's balance transactions on the dispute: withdrawals are negative, reinstatements positive. */
function disputeState(
  d: DisputeView,
  userId: string,
  payment: TopUpRow,
  status: string,
  openedPosted: boolean,
): DisputeState {
  const currency = payment.currency as Currency;
  // Stripe's own lines on the dispute say where it settled; the payment's record is a fallback
  // (learned per currency, so it can lag a change of the account's settlement currencies). The
  // user is debited either way; a disagreement only moves the platform's side, which the line
  // check reports.
  const seen = new Set(d.balanceTransactions.map((t) => t.currency));
  if (seen.size > 1) {
    throw new DomainError(
      "settlement_currency_mismatch",
      `dispute ${d.id} settled in ${[...seen].join(" and ")}`,
    );
  }
  const settled = ([...seen][0] ?? payment.settlement_currency ?? payment.currency) as Currency;
  return {
    via: settled !== currency ? FX : STRIPE,
    feeCurrency: settled,
    disputeId: d.id,
    userId,
    amountMinor: d.amount,
    currency,
    status,
    openedPosted,
    withdrawals: d.balanceTransactions
      .filter((t) => t.amount < 0)
      .map((t) => ({ amountMinor: -t.amount, feeMinor: t.fee })),
    reinstatements: d.balanceTransactions.filter((t) => t.amount > 0).map((t) => ({ amountMinor: t.amount })),
  };
}
