import { postPosting } from "../db/stores/ledger.js";
import {
  getWithdrawal,
  lockWithdrawal,
  updateWithdrawal,
  type WithdrawalRow,
  type WithdrawalStatus,
} from "../db/stores/withdrawals.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { withdrawalReturned } from "../ledger/movements.js";
import type { Currency } from "../money/currencies.js";
import type { FlowDeps } from "./deps.js";
import type { EventCtx } from "./payment-intent.js";

/**
 * `payout.paid` / `payout.failed` from the connected account. The payout is
 * re-fetched on that account, so a stale or repeated event cannot settle a
 * withdrawal twice or in the wrong direction.
 */
export async function syncPayout(
  deps: FlowDeps,
  payoutId: string,
  account: string | null,
  ev: EventCtx,
): Promise<string> {
  if (!account) return "not_a_connect_payout";
  const payout = await deps.stripe.payouts.retrieve(payoutId, {}, { stripeAccount: account });
  const wd = await withdrawalOf(deps, payout.metadata?.withdrawal_id);
  if (!wd) return "not_a_withdrawal";
  if (payout.status === "paid") {
    const done = await withTransaction(deps.db, async (trx) => {
      const locked = (await lockWithdrawal(trx, wd.id))!;
      if (locked.status !== "processing") return locked.status;
      await updateWithdrawal(trx, wd.id, { status: "paid", payout_id: payoutId });
      return "paid";
    });
    ev.log.info({ withdrawal_id: wd.id, payout_id: payoutId, outcome: done }, "payout paid");
    return done;
  }
  if (payout.status === "failed" || payout.status === "canceled") {
    return returnFunds(deps, wd.id, "failed", `payout ${payout.status}: ${payout.failure_code ?? "unknown"}`);
  }
  return `payout_${payout.status}`;
}

/** `transfer.reversed`: the transfer came back, so does the user's money. */
export async function syncTransfer(deps: FlowDeps, transferId: string, ev: EventCtx): Promise<string> {
  const transfer = await deps.stripe.transfers.retrieve(transferId);
  const wd = await withdrawalOf(
    deps,
    transfer.metadata?.withdrawal_id ?? transfer.transfer_group ?? undefined,
  );
  if (!wd) return "not_a_withdrawal";
  if (transfer.amount_reversed < transfer.amount) return "not_fully_reversed";
  const outcome = await bookReturn(deps, wd.id, "reversed", null);
  ev.log.info({ withdrawal_id: wd.id, transfer_id: transferId, outcome }, "transfer reversed");
  return outcome;
}

/**
 * Reverses the withdrawal's transfer (key `wd_…:reverse`, so a retry cannot
 * reverse twice) and books the money back to the user's available balance.
 */
export async function returnFunds(
  deps: FlowDeps,
  id: string,
  status: WithdrawalStatus,
  reason: string,
): Promise<string> {
  // Decide the outcome first, under the lock: the transfer.reversed that our own reversal
  // causes must find the withdrawal already `failed`, not mark it `reversed`.
  const wd = await withTransaction(deps.db, async (trx) => {
    const locked = (await lockWithdrawal(trx, id))!;
    if (locked.status !== "processing" && locked.status !== "paid") return locked;
    return updateWithdrawal(trx, id, { status, last_error: reason });
  });
  if (wd.transfer_id) {
    const transfer = await deps.stripe.transfers.retrieve(wd.transfer_id);
    if (transfer.amount_reversed < transfer.amount) {
      await deps.stripe.transfers.createReversal(
        wd.transfer_id,
        { metadata: { withdrawal_id: id } },
        { idempotencyKey: `${id}:reverse` },
      );
    }
  }
  return bookReturn(deps, id, status, reason);
}

/**
 * Books `wd_…:returned` once. The first outcome decides the status: a payout
 * failure that we reversed ends `failed`, and the `transfer.reversed` that our
 * own reversal causes then finds the money already returned.
 */
async function bookReturn(
  deps: FlowDeps,
  id: string,
  status: WithdrawalStatus,
  reason: string | null,
): Promise<string> {
  return withTransaction(deps.db, async (trx) => {
    const wd = (await lockWithdrawal(trx, id))!;
    if (!wd.transfer_id) {
      // An approved withdrawal whose transfer the executor has not recorded yet: wait for it
      // (the executor books a transfer it finds already reversed as returned).
      if (wd.status === "approved") {
        throw new DomainError(
          "withdrawal_transfer_not_recorded",
          `withdrawal ${id} has no recorded transfer yet`,
          {},
          false,
        );
      }
      return `nothing_transferred:${wd.status}`;
    }
    const posting = withdrawalReturned(
      id,
      wd.user_id,
      { amountMinor: wd.net_minor, currency: wd.currency as Currency },
      wd.fee_minor,
    );
    const { applied } = await postPosting(trx, posting);
    if (wd.status === "processing" || wd.status === "paid") {
      await updateWithdrawal(trx, id, { status, ...(reason !== null && { last_error: reason }) });
      return status;
    }
    return applied ? "returned" : `already_${wd.status}`;
  });
}

/** Coffer put the withdrawal id in the object's metadata (and the transfer group) when it created it. */
async function withdrawalOf(deps: FlowDeps, id: string | undefined): Promise<WithdrawalRow | undefined> {
  return id?.startsWith("wd_") ? getWithdrawal(deps.db, id) : undefined;
}
