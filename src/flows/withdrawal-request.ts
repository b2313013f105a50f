import { hasBalanceRow, lockBalances } from "../db/stores/balances.js";
import { getConnectedAccount } from "../db/stores/connected-accounts.js";
import { postPosting } from "../db/stores/ledger.js";
import {
  findByIdempotencyKey,
  insertWithdrawal,
  lockWithdrawal,
  updateWithdrawal,
  type WithdrawalRow,
  type WithdrawalStatus,
} from "../db/stores/withdrawals.js";
import { withTransaction, type Trx } from "../db/transaction.js";
import { holdsCurrency } from "../db/stores/reconciliation.js";
import { unsettledCredits } from "../db/stores/settling.js";
import { DomainError } from "../ledger/errors.js";
import { quoteWithdrawal } from "../ledger/fees.js";
import { withdrawalHold, withdrawalRelease } from "../ledger/movements.js";
import { settlesAt, withdrawableMinor } from "../ledger/settling.js";
import { newId } from "../ids.js";
import type { Currency } from "../money/currencies.js";
import { nowOf, type FlowDeps } from "./deps.js";

export interface WithdrawalRequest {
  userId: string;
  idempotencyKey: string;
  amountMinor: number;
  currency: Currency;
}

/**
 * A user asks to withdraw. In one transaction: the whole amount moves from
 * available to held (the balance row is locked, and the hold is the one
 * posting a user starts, so it can never overdraw), and the request is stored
 * for review. N concurrent requests on a balance that covers k of them give
 * exactly k holds, because each re-reads the balance under the row lock.
 */
export async function requestWithdrawal(deps: FlowDeps, req: WithdrawalRequest): Promise<WithdrawalRow> {
  const fees = deps.config.WITHDRAWAL_FEES;
  const quote = quoteWithdrawal(req.amountMinor, fees[req.currency] ?? fees.default!);
  const earlier = await findByIdempotencyKey(deps.db, req.userId, req.idempotencyKey);
  if (earlier) {
    if (earlier.amount_minor !== req.amountMinor || earlier.currency !== req.currency) {
      throw new DomainError(
        "idempotency_key_reused",
        "this Idempotency-Key was used with a different request body",
      );
    }
    return earlier;
  }
  const account = await getConnectedAccount(deps.db, req.userId);
  if (!account?.payouts_enabled) {
    throw new DomainError(
      "payouts_not_enabled",
      "finish Stripe onboarding (POST /v1/connect/account) before withdrawing",
    );
  }
  return withTransaction(deps.db, async (trx) => {
    if (!(await hasBalanceRow(trx, req.userId, req.currency)))
      throw new DomainError("currency_mismatch", `this wallet has never held ${req.currency}`);
    // Checked before anything is held: a currency Stripe converts on the way in (FX) is never in the
    // platform's Stripe balance, so a transfer in it could only fail later at Stripe.
    if (!(await holdsCurrency(trx, req.currency))) {
      throw new DomainError(
        "currency_not_payable",
        `the platform holds no Stripe balance in ${req.currency}: Stripe settles it in another currency`,
      );
    }
    if (!deps.config.WITHDRAW_UNSETTLED) {
      await requireSettled(trx, req, quote.amountMinor, Math.floor(nowOf(deps).getTime() / 1000));
    }
    const id = newId("wd");
    await postPosting(
      trx,
      withdrawalHold(id, req.userId, { amountMinor: quote.amountMinor, currency: req.currency }),
    );
    return insertWithdrawal(trx, {
      id,
      user_id: req.userId,
      currency: req.currency,
      amount_minor: quote.amountMinor,
      fee_minor: quote.feeMinor,
      net_minor: quote.netMinor,
      connected_account_id: account.account_id,
      idempotency_key: req.idempotencyKey,
    });
  });
}

/**
 * Refuses a withdrawal that would draw on funds Stripe still holds as pending. The balance
 * row is locked first (postPosting takes the same lock again, a no-op in this transaction),
 * so the check and the hold see one balance: concurrent requests serialize here exactly as
 * they do on `available`. More than `available` is left to the hold's own insufficient_funds.
 */
async function requireSettled(
  trx: Trx,
  req: WithdrawalRequest,
  amountMinor: number,
  now: number,
): Promise<void> {
  const locked = await lockBalances(trx, [{ userId: req.userId, currency: req.currency }]);
  const available = [...locked.values()][0]?.available_minor ?? 0;
  if (amountMinor > available) return;
  const credits = (await unsettledCredits(trx, req.userId, [req.currency])).get(req.currency) ?? [];
  const withdrawable = withdrawableMinor(available, credits);
  if (amountMinor <= withdrawable) return;
  const at = settlesAt(available, credits, amountMinor);
  const settlesAtIso = at === null ? null : new Date(at * 1000).toISOString();
  const when =
    at === null
      ? "Stripe has not yet reported when the newest card funds become available; try again later"
      : at > now
        ? `enough settles at ${settlesAtIso}`
        : `Stripe's date for enough of it (${settlesAtIso}) has come, and it counts once Stripe reports ` +
          "the funds available, within a balance-stream pass; try again shortly";
  throw new DomainError(
    "funds_not_settled",
    `${amountMinor} is more than the ${withdrawable} (minor units of ${req.currency}) that Stripe has made ` +
      `available of this wallet's ${available}; ${when}`,
    { currency: req.currency, withdrawable_minor: withdrawable, settles_at: settlesAtIso },
  );
}

/** The owner cancels while the request still waits for review. Anyone else's request is "not found". */
export async function cancelWithdrawal(deps: FlowDeps, userId: string, id: string): Promise<WithdrawalRow> {
  return withTransaction(deps.db, async (trx) => {
    const wd = await lockWithdrawal(trx, id);
    if (!wd || wd.user_id !== userId) throw new DomainError("not_found", "no such withdrawal");
    return releaseHold(trx, wd, "canceled", {});
  });
}

/**
 * Moves a pending request to a final status and returns its hold to the user.
 * Idempotent by state: a second cancel or reject finds it no longer pending (409).
 */
export async function releaseHold(
  trx: Trx,
  wd: WithdrawalRow,
  status: WithdrawalStatus,
  patch: Partial<WithdrawalRow>,
): Promise<WithdrawalRow> {
  if (wd.status !== "pending_review") {
    throw new DomainError(
      "withdrawal_not_pending",
      `withdrawal ${wd.id} is ${wd.status}, not pending_review`,
      { status: wd.status },
    );
  }
  await postPosting(
    trx,
    withdrawalRelease(wd.id, wd.user_id, { amountMinor: wd.amount_minor, currency: wd.currency as Currency }),
  );
  return updateWithdrawal(trx, wd.id, { ...patch, status });
}
