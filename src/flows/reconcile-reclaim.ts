import { booksBegan, saveLines, unexplainedLinesOf } from "../db/stores/balance-transactions.js";
import { postPosting } from "../db/stores/ledger.js";
import type { Tx } from "../db/knex.js";
import { DomainError } from "../ledger/errors.js";
import { lineRule } from "../ledger/claims.js";
import type { Posting } from "../ledger/types.js";

/**
 * The charge line of a subscription invoice may be read by the stream before `invoice_payment.paid`
 * is booked: then nothing traced its PaymentIntent to an invoice, and the line was stored
 * unexplained, its fee unbooked. When the payment is booked, its lines are claimed again in the
 * same transaction, by the same pure rule the stream applies, so whichever of the two comes first
 * the books end the same: `in_…:paid` claimed, `txn_…:fee` booked once (its key is the stream's).
 * A stream pass that read the line before this commit may store it unexplained once more; the
 * next run re-reads its whole window, sees the record and claims it. Returns the bookings applied,
 * for the metrics.
 */
export async function reclaimPaymentLines(trx: Tx, piId: string, invoiceId: string): Promise<Posting[]> {
  const lines = await unexplainedLinesOf(trx, piId);
  if (lines.length === 0) return [];
  const began = await booksBegan(trx);
  const applied: Posting[] = [];
  for (const stored of lines) {
    const rule = lineRule({ ...stored, invoiceId, beforeBooks: stored.created < began });
    for (const b of rule.bookings) {
      // A conflicting amount is left to the line check to report, as the stream leaves it.
      const result = await trx
        .transaction((sp) => postPosting(sp, b))
        .catch((err: unknown) => {
          if (err instanceof DomainError && err.code === "ledger_idempotency_conflict") return null;
          throw err;
        });
      if (result?.applied) applied.push(b);
    }
    await saveLines(trx, [{ ...stored, invoiceId, unexplained: rule.unexplained, claims: rule.claims }]);
  }
  return applied;
}
