import { appendAudit } from "../db/stores/audit.js";
import { negativeCurrency } from "../db/stores/balances.js";
import { hasOpenDispute } from "../db/stores/disputes.js";
import { lockWithdrawal, updateWithdrawal, type WithdrawalRow } from "../db/stores/withdrawals.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import type { FlowDeps } from "./deps.js";
import { releaseHold } from "./withdrawal-request.js";

export interface Decision {
  withdrawalId: string;
  actor: string;
  requestId: string;
  reason?: string;
}

const snapshot = (w: WithdrawalRow) => ({
  status: w.status,
  amount_minor: w.amount_minor,
  fee_minor: w.fee_minor,
  net_minor: w.net_minor,
});

/**
 * An admin approves. Refused while the user's wallet is negative or one of
 * their disputes is open: money Stripe may still claw back must not leave.
 * The decision and its audit row commit together; `enqueue` (the transfer job)
 * runs only after that commit, and the sweeper re-enqueues if it is lost.
 */
export async function approveWithdrawal(
  deps: FlowDeps,
  d: Decision,
  enqueue: (id: string) => Promise<void>,
): Promise<WithdrawalRow> {
  const approved = await withTransaction(deps.db, async (trx) => {
    const wd = await lockWithdrawal(trx, d.withdrawalId);
    if (!wd) throw new DomainError("not_found", "no such withdrawal");
    if (wd.status !== "pending_review") {
      throw new DomainError(
        "withdrawal_not_pending",
        `withdrawal ${wd.id} is ${wd.status}, not pending_review`,
        { status: wd.status },
      );
    }
    const negative = await negativeCurrency(trx, wd.user_id);
    if (negative) throw new DomainError("wallet_negative", `the user's ${negative} wallet is negative`);
    if (await hasOpenDispute(trx, wd.user_id))
      throw new DomainError("dispute_open", "the user has an open dispute");
    const after = await updateWithdrawal(trx, wd.id, {
      status: "approved",
      decided_by: d.actor,
      decided_at: new Date(),
      reason: d.reason ?? null,
    });
    await appendAudit(trx, {
      actor: d.actor,
      action: "withdrawal.approve",
      target: wd.id,
      reason: d.reason ?? null,
      before: snapshot(wd),
      after: snapshot(after),
      requestId: d.requestId,
    });
    trx.afterCommit(() =>
      enqueue(wd.id).catch((err: unknown) =>
        deps.log.warn({ err, withdrawal_id: wd.id }, "approved but not enqueued; the sweeper will"),
      ),
    );
    return after;
  });
  deps.log.info({ withdrawal_id: approved.id, actor: d.actor }, "withdrawal approved");
  return approved;
}

/** An admin rejects with a reason; the hold goes back to the user's available balance. */
export async function rejectWithdrawal(
  deps: FlowDeps,
  d: Decision & { reason: string },
): Promise<WithdrawalRow> {
  return withTransaction(deps.db, async (trx) => {
    const wd = await lockWithdrawal(trx, d.withdrawalId);
    if (!wd) throw new DomainError("not_found", "no such withdrawal");
    const after = await releaseHold(trx, wd, "rejected", {
      decided_by: d.actor,
      decided_at: new Date(),
      reason: d.reason,
    });
    await appendAudit(trx, {
      actor: d.actor,
      action: "withdrawal.reject",
      target: wd.id,
      reason: d.reason,
      before: snapshot(wd),
      after: snapshot(after),
      requestId: d.requestId,
    });
    return after;
  });
}
