import { isPosted, postPosting } from "../db/stores/ledger.js";
import {
  activeRefundedMinor,
  ACTIVE_REFUND_STATUSES,
  lockRefund,
  REFUND_STATUS_RANK,
  RELEASED,
  upsertRefund,
} from "../db/stores/refunds.js";
import { lockByPaymentIntent, updateTopUp, type TopUpRow } from "../db/stores/top-ups.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { FX, STRIPE } from "../ledger/accounts.js";
import { refunded, refundReversed } from "../ledger/movements.js";
import type { Posting } from "../ledger/types.js";
import type { Currency } from "../money/currencies.js";
import { refund as refundView, type ChargeView, type RefundView } from "../stripe/snapshots.js";
import { ensureCredited, forwardStatus, paymentIntentOf } from "./credit-first.js";
import type { FlowDeps } from "./deps.js";
import type { EventCtx } from "./payment-intent.js";

export type RefundOutcome = "debited" | "reversed" | "no_money" | "not_wallet_payment";

/**
 * A partial capture releases the rest of the authorization, and Stripe shows that
 * as a refund of the charge with no balance transaction: no money moved, because
 * none was captured. It is recorded, never debited, and never counts against what
 * the payment may still refund. Only a refund that fits in the uncaptured rest can
 * be one; a real refund always has its balance transaction from the start.
 */
const isRelease = (refund: RefundView, payment: TopUpRow, stored: string | undefined, debited: boolean) =>
  // Once a refund is known as a real one (stored active, or debited), no later snapshot makes it a release.
  (stored === undefined || stored === RELEASED) &&
  !debited &&
  refund.balanceTransactionId === null &&
  refund.status === "succeeded" &&
  payment.status === "succeeded" &&
  refund.amount <= payment.amount_minor - payment.amount_received_minor;

const SIBLING_GRACE_MS = 20_000;
const SIBLING_RETRY_MS = 3_000;

/** `refund.*` and `charge.refund.updated`: the event's snapshot of the refund is applied as it is. */
export async function syncRefund(deps: FlowDeps, refund: RefundView, ev: EventCtx): Promise<RefundOutcome> {
  return applyRefund(deps, refund, ev);
}

/**
 * `charge.refunded` carries the charge's cumulative `amount_refunded`, which
 * cannot say which refund is new. When the refunds Coffer knows already add up
 * to it (their own `refund.*` events came first), nothing is fetched. Otherwise
 * each refund on the charge is listed and applied on its own key
 * (`re_…:refunded`), and the sibling `refund.*` events converge on the same keys.
 */
export async function syncChargeRefunds(deps: FlowDeps, charge: ChargeView, ev: EventCtx): Promise<string> {
  const piId = charge.paymentIntentId;
  const payment = piId ? await ensureCredited(deps, piId, ev) : null;
  if (!piId || !payment?.user_id) return "not_wallet_payment";
  // A partial capture releases the rest, which Stripe counts in `amount_refunded` with no refund object.
  const released = charge.captured ? charge.amount - charge.amountCaptured : 0;
  if ((await activeRefundedMinor(deps.db, piId)) === charge.amountRefunded - released) return "refunds_known";
  // Each refund has its own `refund.*` event, sent beside this one and carrying all it needs.
  // Wait briefly for it instead of listing the charge's refunds (a Stripe read per refund
  // otherwise, whenever this event wins the race); after the grace, ask Stripe.
  if (ev.receivedAtMs !== undefined && Date.now() - ev.receivedAtMs < SIBLING_GRACE_MS) {
    throw new DomainError(
      "awaiting_sibling_events",
      `charge ${charge.id} shows refunds Coffer has not seen yet; waiting for their own events`,
      { retry_after_ms: SIBLING_RETRY_MS },
      false,
    );
  }
  const refunds: RefundView[] = [];
  for await (const r of deps.stripe.refunds.list({ charge: charge.id, limit: 100 }))
    refunds.push(refundView(r));
  // Stripe lists newest first; apply oldest first, so an earlier refund's failure is booked
  // before a later refund is measured against what the payment has left.
  const outcomes: RefundOutcome[] = [];
  for (const r of refunds.reverse()) outcomes.push(await applyRefund(deps, r, ev));
  return outcomes.length === 0 ? "no_refunds" : outcomes.join(",");
}

/**
 * Applies one refund. If it seems to take the payment past what it credited,
 * our view of its siblings may be stale (one may have failed at Stripe with
 * its event still on the way): their current state is applied first, once,
 * and the refund is tried again before the event is failed.
 */
async function applyRefund(
  deps: FlowDeps,
  refund: RefundView,
  ev: EventCtx,
  resynced = false,
): Promise<RefundOutcome> {
  try {
    return await applyRefundOnce(deps, refund, ev);
  } catch (err) {
    if (resynced || !(err instanceof DomainError) || err.code !== "refund_exceeds_payment") throw err;
    const piId = (await paymentIntentOf(deps, refund))!;
    for await (const sibling of deps.stripe.refunds.list({ payment_intent: piId, limit: 100 })) {
      if (sibling.id !== refund.id && !ACTIVE_REFUND_STATUSES.includes(sibling.status ?? "pending")) {
        await applyRefundOnce(deps, refundView(sibling), ev);
      }
    }
    return applyRefund(deps, refund, ev, true);
  }
}

async function applyRefundOnce(deps: FlowDeps, refund: RefundView, ev: EventCtx): Promise<RefundOutcome> {
  const piId = await paymentIntentOf(deps, refund);
  const payment = piId ? await ensureCredited(deps, piId, ev) : null;
  if (!piId || !payment?.user_id) {
    ev.log.info({ refund_id: refund.id }, "refund of a payment that is not a wallet top-up: no money moves");
    return "not_wallet_payment";
  }
  const userId = payment.user_id;
  let posted: Posting[] = [];
  const outcome = await withTransaction(deps.db, async (trx) => {
    posted = []; // a deadlock retry runs this again from the start
    // Lock order: the payment row, then the refund row, then balances (inside postPosting).
    const row = (await lockByPaymentIntent(trx, piId))!;
    if (refund.currency !== row.currency) {
      throw new DomainError(
        "currency_mismatch",
        `refund ${refund.id} is in ${refund.currency}, payment ${piId} in ${row.currency}`,
      );
    }
    const stored = await lockRefund(trx, refund.id);
    const money = { amountMinor: refund.amount, currency: row.currency as Currency };
    // A converted payment is refunded through `fx`; the stream books Stripe's side in its currency.
    const via = row.settlement_currency ? FX : STRIPE;
    const debited = await isPosted(trx, refunded(refund.id, userId, money, via).key);
    const status = isRelease(refund, row, stored?.status, debited)
      ? RELEASED
      : forwardStatus(stored?.status, refund.status, REFUND_STATUS_RANK);
    let result: RefundOutcome = "no_money";
    if (ACTIVE_REFUND_STATUSES.includes(status)) {
      const debit = refunded(refund.id, userId, money, via);
      if (!(await isPosted(trx, debit.key))) {
        const others = await activeRefundedMinor(trx, piId, refund.id);
        if (others + refund.amount > row.amount_received_minor) {
          // Never silently clamp: the event fails with this reason and an alert is logged.
          throw new DomainError(
            "refund_exceeds_payment",
            `refund ${refund.id} of ${refund.amount} would take payment ${piId} past the ${row.amount_received_minor} it credited (${others} already refunded)`,
          );
        }
      }
      if ((await postPosting(trx, debit, { eventId: ev.eventId })).applied) {
        posted.push(debit);
        result = "debited";
      }
    } else if (await isPosted(trx, refunded(refund.id, userId, money, via).key)) {
      // Failed or canceled after we debited it: the money comes back. Never debited: nothing to undo.
      const back = refundReversed(refund.id, userId, money, via);
      if ((await postPosting(trx, back, { eventId: ev.eventId })).applied) {
        posted.push(back);
        result = "reversed";
      }
    }
    await upsertRefund(trx, {
      id: refund.id,
      payment_intent_id: piId,
      charge_id: refund.chargeId,
      user_id: userId,
      amount_minor: refund.amount,
      currency: row.currency,
      status,
    });
    await updateTopUp(trx, row.id, { refunded_minor: await activeRefundedMinor(trx, piId) });
    return result;
  });
  for (const p of posted) deps.metrics.postings.inc({ kind: p.kind });
  ev.log.info({ refund_id: refund.id, stripe_status: refund.status, outcome }, "refund synced");
  return outcome;
}
