import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../errors.js";
import { PLATFORM } from "../state.js";
import { createMovementTransaction } from "./balance-transactions.js";
import { changeExternalAccount, findExternalAccount } from "./external-account-flow.js";

declare module "../state.js" {
  interface ObjectTypes {
    payout: Stripe.Payout;
  }
}

/** Stripe's payout failure codes, with the message it gives for each. */
export const PAYOUT_FAILURES = {
  account_closed: "The bank account has been closed.",
  account_frozen: "The bank account has been frozen.",
  bank_account_restricted:
    "The bank account has restrictions on either the type or number of payouts allowed.",
  bank_ownership_changed:
    "The destination bank account is no longer valid because its branch has changed ownership.",
  could_not_process: "The bank could not process this payout.",
  debit_not_authorized: "Debit transactions are not approved on the bank account.",
  declined: "The bank has declined this transfer.",
  insufficient_funds: "Your Stripe account has insufficient funds to cover the payout.",
  invalid_account_number: "The routing number seems correct, but the account number is invalid.",
  invalid_currency: "The bank was unable to process this payout because of its currency.",
  no_account: "The bank account details on file are probably incorrect. No bank account could be located.",
} as const;
export type PayoutFailureCode = keyof typeof PAYOUT_FAILURES;
export const PAYOUT_FAILURE_CODES = Object.keys(PAYOUT_FAILURES) as [
  PayoutFailureCode,
  ...PayoutFailureCode[],
];

// A payout the bank has not answered yet; test mode skips in_transit, but both are accepted.
const OPEN = ["pending", "in_transit"];

function refuseUnlessOpen(payout: Stripe.Payout, verb: string): void {
  if (!OPEN.includes(payout.status)) {
    const message =
      `This payout cannot be ${verb} because it has a status of ${payout.status}. ` +
      `Only a payout with one of the following statuses may be ${verb}: ${OPEN.join(", ")}.`;
    throw invalidRequest(message);
  }
}

/** The bank confirmed the money arrived. */
export function markPayoutPaid(ctx: ApiContext, payout: Stripe.Payout): Stripe.Payout {
  refuseUnlessOpen(payout, "marked paid");
  const previous = payout.status;
  payout.status = "paid";
  payout.trace_id = { status: "supported", value: null };
  ctx.emit("payout.paid", payout, { status: previous });
  return payout;
}

/** The bank bounced the payout: the amount comes back to the account's available balance. */
export function failPayout(ctx: ApiContext, payout: Stripe.Payout, code: PayoutFailureCode): Stripe.Payout {
  refuseUnlessOpen(payout, "failed");
  const txn = createMovementTransaction(ctx, {
    amount: payout.amount,
    currency: payout.currency,
    type: "payout_failure",
    reporting_category: "payout_reversal",
    source: payout.id,
    description: `Payout failure (${code})`,
    available: true,
  });
  const previous = payout.status;
  payout.status = "failed";
  payout.failure_balance_transaction = txn.id;
  payout.failure_code = code;
  payout.failure_message = PAYOUT_FAILURES[code];
  ctx.emit("payout.failed", payout, { status: previous });
  markDestinationErrored(ctx, payout, code);
  return payout;
}

/**
 * Stripe sets a connected account's external account `errored` when a payout to it bounces, and
 * sends no scheduled payouts there until it is updated. `insufficient_funds` is Stripe's own
 * balance, not the bank's answer, so it leaves the bank account alone.
 */
function markDestinationErrored(ctx: ApiContext, payout: Stripe.Payout, code: PayoutFailureCode): void {
  if (code === "insufficient_funds" || ctx.scope === PLATFORM || typeof payout.destination !== "string")
    return;
  const account = ctx.store.get(PLATFORM, "account", ctx.scope);
  const bank = account && findExternalAccount(account, payout.destination);
  if (account && bank) changeExternalAccount(ctx, account, bank, { status: "errored" });
}
