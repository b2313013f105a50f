import { markLongWaitAlerted, noteFundsWait, type WithdrawalRow } from "../db/stores/withdrawals.js";
import { nowOf, type FlowDeps } from "./deps.js";

export type Stage = "transfer" | "payout";

/** Longest pause between two looks at the balance: a payout follows the funds within this. */
export const FUNDS_WAIT_MAX_MS = 60 * 60_000;
/** A wait longer than this gets its second (and last) alert. */
export const LONG_WAIT_MS = 24 * 60 * 60_000;

/**
 * Stripe has not the funds for this stage yet: the job waits `delayMs` (BullMQ's DelayedError,
 * no attempt spent) and looks again. Not a failure, so nothing here is terminal.
 */
export class WaitingForFunds extends Error {
  constructor(
    readonly delayMs: number,
    message: string,
  ) {
    super(message);
    this.name = "WaitingForFunds";
  }
}

/**
 * Whether the balance this stage draws on covers the net: the platform's available balance for
 * the transfer, the connected account's for the payout. It is a read, with no idempotency key,
 * which is why a waiting withdrawal asks it instead of the create: Stripe saves a
 * `balance_insufficient` under the create's key for 24 h, so creating again under that key could
 * only replay the refusal, and a new key per look would churn keys for days.
 */
export async function fundsCover(deps: FlowDeps, wd: WithdrawalRow, stage: Stage): Promise<boolean> {
  const balance =
    stage === "payout"
      ? await deps.stripe.balance.retrieve({}, { stripeAccount: wd.connected_account_id! })
      : await deps.stripe.balance.retrieve();
  const available = balance.available.find((b) => b.currency === wd.currency)?.amount ?? 0;
  return available >= wd.net_minor;
}

/**
 * Records the wait and says how long until the next look. The backoff is the time waited so far
 * (so it doubles from one look to the next) between JOB_BACKOFF_MS and an hour. Alerts: one when
 * the wait starts, one when it has lasted over a day; each once, whichever worker gets there.
 */
export async function waitForFunds(
  deps: FlowDeps,
  wd: WithdrawalRow,
  stage: Stage,
  log: FlowDeps["log"],
): Promise<WaitingForFunds> {
  const now = nowOf(deps);
  let delayMs = 0;
  let waitedMs = 0;
  const { since, started } = await noteFundsWait(deps.db, wd.id, now, (since) => {
    waitedMs = now.getTime() - since.getTime();
    delayMs = Math.min(Math.max(waitedMs, deps.config.JOB_BACKOFF_MS), FUNDS_WAIT_MAX_MS);
    const next = new Date(now.getTime() + delayMs).toISOString();
    return (
      `waiting for Stripe funds since ${since.toISOString()}: balance_insufficient on the ${stage}; ` +
      `next look at ${next}`
    );
  });
  const fields = { withdrawal_id: wd.id, stage, waiting_since: since.toISOString(), alert: true };
  if (started)
    log.warn(fields, "withdrawal waits for Stripe funds (balance_insufficient); it retries by itself");
  else if (waitedMs > LONG_WAIT_MS && (await markLongWaitAlerted(deps.db, wd.id)))
    log.error(
      { ...fields, waited_h: Math.round(waitedMs / 3_600_000) },
      "withdrawal has waited for Stripe funds for over a day",
    );
  else log.debug({ withdrawal_id: wd.id, stage, delay_ms: delayMs }, "still waiting for Stripe funds");
  return new WaitingForFunds(delayMs, `waiting for Stripe funds for the ${stage}`);
}
