import { appendAudit } from "../db/stores/audit.js";
import { isPosted, postPosting } from "../db/stores/ledger.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { openingRecorded } from "../ledger/movements.js";
import type { Currency } from "../money/currencies.js";
import type { FlowDeps } from "./deps.js";

/**
 * The cut-over: what Stripe held for the platform before Coffer (the legacy
 * system's money), recorded once per currency as stripe → opening_balance. The
 * legacy import then books opening_balance → users, so `opening_balance` drains to
 * zero when the two agree. Audited in the same transaction; a second one is 409
 * (correct a wrong one with a reversing posting, never by recording again).
 */
export async function recordOpening(
  deps: FlowDeps,
  r: { currency: Currency; amountMinor: number; actor: string; requestId: string },
): Promise<{ currency: string; amount_minor: number; transaction_id: string }> {
  const posting = openingRecorded({ amountMinor: r.amountMinor, currency: r.currency });
  const refuse = () =>
    new DomainError("opening_already_recorded", `the opening balance in ${r.currency} is already recorded`);
  const result = await withTransaction(deps.db, async (trx) => {
    if (await isPosted(trx, posting.key)) throw refuse();
    const posted = await postPosting(trx, posting).catch((err: unknown) => {
      // A concurrent opening with another amount won the key: that is a repeat too.
      if (err instanceof DomainError && err.code === "ledger_idempotency_conflict") throw refuse();
      throw err;
    });
    if (!posted.applied) throw refuse();
    const after = {
      currency: r.currency,
      amount_minor: r.amountMinor,
      transaction_id: String(posted.transactionId),
    };
    await appendAudit(trx, {
      actor: r.actor,
      action: "reconciliation.opening",
      target: r.currency,
      before: null,
      after,
      requestId: r.requestId,
    });
    return after;
  });
  deps.metrics.postings.inc({ kind: posting.kind });
  return result;
}
