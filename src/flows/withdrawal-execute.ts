import Stripe from "stripe";
import { postPosting } from "../db/stores/ledger.js";
import {
  bumpAttempts,
  getWithdrawal,
  lockWithdrawal,
  updateWithdrawal,
  type WithdrawalRow,
} from "../db/stores/withdrawals.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { withdrawalRelease, withdrawalReturned, withdrawalTransferred } from "../ledger/movements.js";
import type { Currency } from "../money/currencies.js";
import { classifyStripeError, stripeRateLimit } from "../stripe/errors.js";
import { nowOf, type FlowDeps } from "./deps.js";
import { fundsCover, waitForFunds, type Stage } from "./withdrawal-funds-wait.js";
import { returnFunds } from "./withdrawal-outcome.js";

type Log = FlowDeps["log"];

/** A stage went through: whatever wait for funds there was is over. */
const WAIT_OVER = { funds_waiting_since: null, funds_wait_long_alerted: false } as const;

/**
 * Pays an approved withdrawal: a Transfer of the net to the user's connected
 * account, then a Payout of it on that account. Safe to run any number of
 * times (job retries, a Bull Board retry of a finished job): before creating
 * either object it looks for one made by an earlier attempt, because Stripe's
 * idempotency keys (`wd_…:transfer`, `wd_…:payout`) only last 24 hours.
 * While Stripe lacks the funds it throws WaitingForFunds, and a rate limit
 * passes through as it came; the job waits on either without spending an attempt.
 */
export async function executeWithdrawal(deps: FlowDeps, id: string, log: Log): Promise<string> {
  let wd = await getWithdrawal(deps.db, id);
  if (!wd) throw new DomainError("not_found", `no withdrawal ${id}`);
  if (wd.status !== "approved" && !(wd.status === "processing" && !wd.payout_id))
    return `nothing_to_do:${wd.status}`;
  const account = wd.connected_account_id!;

  if (!wd.transfer_id) {
    const waited = wd;
    const transfer = (await findTransfer(deps.stripe, wd)) ?? (await createTransfer(deps, wd, log));
    if (!transfer) return "failed";
    wd = await withTransaction(deps.db, async (trx) => {
      const locked = (await lockWithdrawal(trx, id))!;
      if (locked.transfer_id || locked.status !== "approved") return locked;
      const net = { amountMinor: locked.net_minor, currency: locked.currency as Currency };
      // Net to Stripe (it leaves to the connected account), fee to the platform.
      await postPosting(trx, withdrawalTransferred(id, locked.user_id, net, locked.fee_minor));
      if (transfer.amount_reversed >= transfer.amount) {
        // Reversed before we could record it (our create timed out, then someone reversed it
        // in the Dashboard, and its transfer.reversed found nothing recorded): the money is back.
        await postPosting(trx, withdrawalReturned(id, locked.user_id, net, locked.fee_minor));
        return updateWithdrawal(trx, id, {
          transfer_id: transfer.id,
          status: "reversed",
          last_error: "transfer reversed before it was recorded",
          ...WAIT_OVER,
        });
      }
      return updateWithdrawal(trx, id, {
        transfer_id: transfer.id,
        status: "processing",
        last_error: null,
        ...WAIT_OVER,
      });
    });
    log.info(
      { withdrawal_id: id, transfer_id: transfer.id, ...waitedFor(deps, waited) },
      "withdrawal transferred",
    );
  }
  if (wd.status !== "processing" || wd.payout_id) return wd.status;

  const waited = wd;
  const payout = (await findPayout(deps.stripe, wd, account)) ?? (await createPayout(deps, wd, account, log));
  if (!payout) return "failed";
  await withTransaction(deps.db, async (trx) => {
    const locked = (await lockWithdrawal(trx, id))!;
    if (!locked.payout_id)
      await updateWithdrawal(trx, id, { payout_id: payout.id, last_error: null, ...WAIT_OVER });
  });
  log.info(
    { withdrawal_id: id, payout_id: payout.id, ...waitedFor(deps, waited) },
    "payout created on the connected account",
  );
  return "payout_created";
}

/** How long the stage had waited for funds, for the line that says it went through. */
function waitedFor(deps: FlowDeps, wd: WithdrawalRow): { waited_for_funds_h?: number } {
  if (!wd.funds_waiting_since) return {};
  const hours = (nowOf(deps).getTime() - wd.funds_waiting_since.getTime()) / 3_600_000;
  return { waited_for_funds_h: Math.round(hours * 10) / 10 };
}

/** The transfer an earlier attempt made, found by its group even after the idempotency key expired. */
async function findTransfer(stripe: Stripe, wd: WithdrawalRow): Promise<Stripe.Transfer | undefined> {
  for await (const t of stripe.transfers.list({ transfer_group: wd.id, limit: 100 })) {
    if (t.metadata?.withdrawal_id === wd.id) return t;
  }
  return undefined;
}

async function findPayout(
  stripe: Stripe,
  wd: WithdrawalRow,
  account: string,
): Promise<Stripe.Payout | undefined> {
  const created = Math.floor(wd.created_at.getTime() / 1000) - 60;
  for await (const p of stripe.payouts.list(
    { limit: 100, created: { gte: created } },
    { stripeAccount: account },
  )) {
    if (p.metadata?.withdrawal_id === wd.id) return p;
  }
  return undefined;
}

async function createTransfer(deps: FlowDeps, wd: WithdrawalRow, log: Log): Promise<Stripe.Transfer | null> {
  await beforeCreate(deps, wd, "transfer", log);
  try {
    return await deps.stripe.transfers.create(
      {
        amount: wd.net_minor,
        currency: wd.currency,
        destination: wd.connected_account_id!,
        transfer_group: wd.id,
        metadata: { withdrawal_id: wd.id, user_id: wd.user_id },
      },
      { idempotencyKey: stripeKey(wd.id, "transfer", wd.transfer_key_version) },
    );
  } catch (err) {
    await steer(deps, wd, "transfer", err, log);
    if (!isFinalRefusal(err, wd.transfer_attempts)) throw retryable(err);
    // Stripe refused and no earlier attempt can have moved money: the hold goes back to the user.
    await withTransaction(deps.db, async (trx) => {
      const locked = (await lockWithdrawal(trx, wd.id))!;
      if (locked.status !== "approved" || locked.transfer_id) return;
      await postPosting(
        trx,
        withdrawalRelease(wd.id, wd.user_id, {
          amountMinor: wd.amount_minor,
          currency: wd.currency as Currency,
        }),
      );
      await updateWithdrawal(trx, wd.id, { status: "failed", last_error: errorText(err), ...WAIT_OVER });
    });
    log.error(
      { withdrawal_id: wd.id, err, alert: true },
      "Stripe refused the transfer; withdrawal failed and hold released",
    );
    return null;
  }
}

async function createPayout(
  deps: FlowDeps,
  wd: WithdrawalRow,
  account: string,
  log: Log,
): Promise<Stripe.Payout | null> {
  await beforeCreate(deps, wd, "payout", log);
  try {
    return await deps.stripe.payouts.create(
      {
        amount: wd.net_minor,
        currency: wd.currency,
        metadata: { withdrawal_id: wd.id, user_id: wd.user_id },
      },
      { stripeAccount: account, idempotencyKey: stripeKey(wd.id, "payout", wd.payout_key_version) },
    );
  } catch (err) {
    await steer(deps, wd, "payout", err, log);
    if (!isFinalRefusal(err, wd.payout_attempts)) throw retryable(err);
    // The transfer already left; with no payout possible, take it back and return the money.
    log.error(
      { withdrawal_id: wd.id, err, alert: true },
      "Stripe refused the payout; reversing the transfer",
    );
    await returnFunds(deps, wd.id, "failed", errorText(err));
    return null;
  }
}

/**
 * Before a create: a withdrawal already waiting for funds first reads the balance and creates
 * only once it covers the net (see fundsCover). Then the attempt is counted, before the call, so
 * that a crash mid-call still counts as an attempt that may have reached Stripe.
 */
async function beforeCreate(deps: FlowDeps, wd: WithdrawalRow, stage: Stage, log: Log): Promise<void> {
  if (wd.funds_waiting_since && !(await fundsCover(deps, wd, stage)))
    throw await waitForFunds(deps, wd, stage, log);
  await bumpAttempts(deps.db, wd.id, stage === "transfer" ? "transfer_attempts" : "payout_attempts");
}

/**
 * The create's errors that are not the withdrawal's fault, thrown on for the job to wait out:
 * - a rate limit: nothing reached Stripe's endpoint, so the attempt is taken back and the same
 *   key is used again next time;
 * - `balance_insufficient`: Stripe saved that refusal under this key for 24 h, so the next create
 *   gets the next key version (the lookup by transfer group / metadata still prevents a double),
 *   and the withdrawal waits for the funds.
 */
async function steer(deps: FlowDeps, wd: WithdrawalRow, stage: Stage, err: unknown, log: Log): Promise<void> {
  if (stripeRateLimit(err)) {
    await bumpAttempts(deps.db, wd.id, stage === "transfer" ? "transfer_attempts" : "payout_attempts", -1);
    throw err;
  }
  if (isBalanceInsufficient(err)) {
    await bumpAttempts(deps.db, wd.id, stage === "transfer" ? "transfer_key_version" : "payout_key_version");
    throw await waitForFunds(deps, wd, stage, log);
  }
}

/**
 * A Stripe 4xx ends the withdrawal only when it is not an idempotency error and
 * no earlier attempt may have reached Stripe (`attemptsBefore` is the count read
 * before this attempt). Everything else is retried.
 */
function isFinalRefusal(err: unknown, attemptsBefore: number): boolean {
  if (classifyStripeError(err) !== "invalid" && classifyStripeError(err) !== "missing") return false;
  return attemptsBefore === 0;
}

const isBalanceInsufficient = (err: unknown) =>
  err instanceof Stripe.errors.StripeError && err.code === "balance_insufficient";

/**
 * SPEC's keys are `wd_…:transfer` and `wd_…:payout`. After each `balance_insufficient`
 * (which proves nothing was created, and which Stripe keeps under its key for 24 h)
 * the next create gets a new version of the key; the lookup by transfer group /
 * metadata before every create still prevents a double. Other errors keep the key.
 */
const stripeKey = (id: string, what: Stage, version: number) =>
  version === 0 ? `${id}:${what}` : `${id}:${what}:v${version}`;

function retryable(err: unknown): Error {
  const code = err instanceof Stripe.errors.StripeError ? err.code : undefined;
  return new DomainError(
    "stripe_retry_later",
    `Stripe: ${errorText(err)}${code ? ` (${code})` : ""}`,
    {},
    false,
  );
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
