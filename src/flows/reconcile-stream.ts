import type Stripe from "stripe";
import {
  advanceCursor,
  booksBegan,
  topUpPaymentIntents,
  readCursor,
  readPass,
  saveLines,
  savePass,
  withdrawalsByTransfer,
  type PassState,
  type StoredLine,
} from "../db/stores/balance-transactions.js";
import { databaseNow } from "../db/stores/reconciliation.js";
import { invoicesByPaymentIntent } from "../db/stores/invoice-payments.js";
import { postedHashes, postPosting } from "../db/stores/ledger.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { lineRule, type BalanceTxn, type LineRule } from "../ledger/claims.js";
import { postingHash, toEntries } from "../ledger/posting.js";
import type { Posting } from "../ledger/types.js";
import { isKnownCurrency, type Currency } from "../money/currencies.js";
import { stripeRateLimit } from "../stripe/errors.js";
import type { FlowDeps } from "./deps.js";

/**
 * Stripe's list endpoints are eventually consistent for the newest seconds, so each
 * pass re-reads this much before the cursor. Lines are stored idempotently; the
 * overlap costs one page, and a line written late is never skipped.
 */
const OVERLAP_S = 300;
const PAGE = 100;

export interface StreamProgress {
  page: number;
  lines: number;
  booked: number;
}

export interface StreamResult extends StreamProgress {
  /** Keys Stripe's lines would book with other amounts than the ledger already holds. */
  conflicts: string[];
  /**
   * Where the pass's view of Stripe ends, for a run to compare the books with Stripe's at one
   * moment: the first page's, since Stripe lists newest first. Every line created before
   * `createdS` (Stripe's clock) was listed, and of the lines created in that second, the ones in
   * `listed`: the rest of that second came after the listing. `createdS` is the newest `created`
   * the pass read, or its start when it read none.
   */
  cut: StreamCut;
  /**
   * The database's clock before the pass's first page (of the pass it resumed, if it did): a
   * posting stamped earlier was for a line this pass could list.
   */
  startedAt: Date;
  /** The line a pass cut short had saved last, if this one went on from there. */
  resumedAfter: string | null;
}

export interface StreamCut {
  createdS: number;
  listed: string[];
}

/**
 * Follows `GET /v1/balance_transactions` from the stored cursor, 100 a page, each
 * page with its sources expanded (one call, not one per line). Each page is saved
 * with its claims and bookings in one transaction, and with where the pass stands
 * (PassState); the cursor moves only after the last page. A pass cut short at any
 * point is gone on with by the next one that asks for the same lower bound, after
 * its last saved page, with its cut and start; another bound starts afresh. Either
 * way nothing is booked twice: bookings are keyed and lines are upserts.
 */
export async function followBalanceStream(
  deps: FlowDeps,
  o: {
    onPage?: (p: StreamProgress) => void;
    overlapS?: number;
    /** Read from here (unix seconds) if it is earlier than the cursor's overlap: a run's window start. */
    from?: number;
  } = {},
): Promise<StreamResult> {
  const onPage = o.onPage ?? (() => {});
  const fromCursor = Math.max(0, (await readCursor(deps.db)) - (o.overlapS ?? OVERLAP_S));
  const since = Math.min(fromCursor, o.from ?? fromCursor);
  const booksStart = await booksBegan(deps.db);
  const kept = await readPass(deps.db);
  const resume = kept?.since === since ? kept : null;
  const progress: StreamResult = {
    page: 0,
    lines: 0,
    booked: 0,
    conflicts: [],
    cut: resume ? { createdS: resume.newest, listed: [...resume.listed] } : { createdS: since, listed: [] },
    startedAt: resume?.startedAt ?? (await databaseNow(deps.db)),
    resumedAfter: resume?.after ?? null,
  };
  let newest = resume?.newest ?? 0;
  const fetchPage = (startingAfter: string | undefined) => {
    const p = patiently(() =>
      deps.stripe.balanceTransactions.list({
        limit: PAGE,
        created: { gte: since },
        expand: ["data.source"],
        ...(startingAfter !== undefined && { starting_after: startingAfter }),
      }),
    );
    // A save that throws leaves this read in flight; its own failure must not go unhandled.
    p.catch(() => {});
    return p;
  };
  let next = fetchPage(resume?.after);
  for (;;) {
    const page = await next;
    const more = page.has_more && page.data.length > 0;
    // The next page is asked for before this one is saved. Under Stripe's 25 requests per
    // second on one endpoint the wait for pages is the floor of a run (1,000 pages: 40 s),
    // and saving in its shadow kept a 100,000-line day at 2.4× that floor before, not near 1×.
    if (more) next = fetchPage(page.data[page.data.length - 1]!.id);
    if (page.data.length > 0) {
      const read = await toLines(deps, page.data, booksStart);
      const lines = read.map((r) => r.line);
      // This page's cut, kept with the page: progress.cut is only replaced once the page is saved.
      let cut: StreamCut = { createdS: progress.cut.createdS, listed: [...progress.cut.listed] };
      for (const l of lines) {
        if (l.created > newest) {
          newest = l.created;
          cut = { createdS: newest, listed: [] };
        }
        if (l.created === newest) cut.listed.push(l.id);
      }
      const pass: PassState = {
        since,
        after: lines[lines.length - 1]!.id,
        newest,
        listed: cut.listed,
        startedAt: progress.startedAt,
      };
      const { booked, conflicts } = await savePage(
        deps,
        lines,
        read.flatMap((r) => r.bookings),
        pass,
      );
      progress.page += 1;
      progress.lines += lines.length;
      progress.booked += booked;
      progress.conflicts.push(...conflicts);
      progress.cut = cut;
      onPage(progress);
    }
    if (!more) break;
  }
  if (newest > 0) await advanceCursor(deps.db, newest);
  return progress;
}

/**
 * A page refused for a rate limit (Stripe's 429, or the shared budget spent by other processes) is
 * asked for again after the wait it names. The cursor moves only at the end of a pass, so giving up
 * on page 700 of a day's 1,000 would throw away the 699 read before it, and the next pass would meet
 * the same contention from the start.
 */
const PAGE_RETRIES = 30;
export async function patiently<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      const limited = stripeRateLimit(err);
      if (!limited || attempt >= PAGE_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, Math.min(limited.retryAfterMs, 10_000)));
    }
  }
}

async function savePage(
  deps: FlowDeps,
  lines: StoredLine[],
  bookings: Posting[],
  pass: PassState,
): Promise<{ booked: number; conflicts: string[] }> {
  let booked: Posting[] = [];
  const conflicts: string[] = [];
  await withTransaction(deps.db, async (trx) => {
    booked = [];
    conflicts.length = 0;
    // Most bookings already exist (handlers post fees as they credit): one read skips them.
    const posted = await postedHashes(
      trx,
      bookings.map((b) => b.key),
    );
    for (const b of bookings) {
      const hash = posted.get(b.key);
      if (hash === undefined) {
        // A handler may post the same key between the read above and this write; a savepoint
        // keeps a conflict to this one booking instead of failing the page.
        const result = await trx
          .transaction((sp) => postPosting(sp, b))
          .catch((err: unknown) => {
            if (err instanceof DomainError && err.code === "ledger_idempotency_conflict") return null;
            throw err;
          });
        if (result === null) conflicts.push(b.key);
        else if (result.applied) booked.push(b);
      } else if (hash !== postingHash(b, toEntries(b))) {
        conflicts.push(b.key); // the line check reports the amounts; nothing is overwritten
      }
    }
    await saveLines(trx, lines);
    await savePass(trx, pass);
  });
  for (const b of booked) deps.metrics.postings.inc({ kind: b.kind });
  for (const key of conflicts) {
    deps.metrics.postingConflicts.inc();
    deps.log.error({ key, alert: true }, "Stripe's balance transaction disagrees with a posted amount");
  }
  return { booked: booked.length, conflicts };
}

/** Stripe's lines in Coffer's terms, with what each claims (sources expanded). */
export async function toLines(
  deps: FlowDeps,
  txns: Stripe.BalanceTransaction[],
  booksStart: number,
): Promise<Array<{ line: StoredLine; bookings: Posting[] }>> {
  // A reversal made outside Coffer carries no withdrawal id; its transfer does, in our table.
  const reversedTransfers = txns.map((t) => transferOfReversal(t.source)).filter((x) => x !== null);
  const byTransfer = await withdrawalsByTransfer(deps.db, reversedTransfers);
  const pis = txns
    .map((t) => paymentIntentOf(typeof t.source === "object" ? t.source : null))
    .filter((x) => x !== null);
  const ours = await topUpPaymentIntents(deps.db, pis);
  // A subscription invoice's charge names only its PaymentIntent; Coffer's record of the
  // InvoicePayment (written with `in_…:paid`) names the invoice.
  const invoices = await invoicesByPaymentIntent(deps.db, pis);
  return txns.map((t) => {
    const source = typeof t.source === "object" ? t.source : null;
    const line: BalanceTxn = {
      id: t.id,
      type: t.type,
      reportingCategory: t.reporting_category,
      sourceId: typeof t.source === "string" ? t.source : (t.source?.id ?? null),
      amountMinor: t.amount,
      feeMinor: t.fee,
      netMinor: t.net,
      currency: t.currency as Currency,
      exchangeRate: t.exchange_rate,
      paymentIntentId: paymentIntentOf(source),
      paymentIsTopUp: ours.has(paymentIntentOf(source) ?? ""),
      invoiceId: invoices.get(paymentIntentOf(source) ?? "") ?? null,
      beforeBooks: t.created < booksStart,
      withdrawalId:
        metadataOf(source).withdrawal_id ?? byTransfer.get(transferOfReversal(t.source) ?? "") ?? null,
    };
    const rule: LineRule = isKnownCurrency(t.currency)
      ? lineRule(line)
      : {
          group: t.id,
          claims: [],
          bookings: [],
          unexplained: `Stripe booked ${t.currency}, a currency Coffer does not know`,
        };
    const stored: StoredLine = {
      ...line,
      status: t.status,
      created: t.created,
      availableOn: t.available_on,
      group: rule.group,
      unexplained: rule.unexplained,
      claims: rule.claims,
    };
    return { line: stored, bookings: rule.bookings };
  });
}

type Source = Stripe.BalanceTransaction["source"];

function paymentIntentOf(source: object | null): string | null {
  if (!source || !("payment_intent" in source)) return null;
  const pi = source.payment_intent as string | { id: string } | null;
  return typeof pi === "string" ? pi : (pi?.id ?? null);
}

function metadataOf(source: object | null): Record<string, string | undefined> {
  if (!source || !("metadata" in source)) return {};
  return (source.metadata ?? {}) as Record<string, string | undefined>;
}

function transferOfReversal(source: Source): string | null {
  if (!source || typeof source === "string" || source.object !== "transfer_reversal") return null;
  return typeof source.transfer === "string" ? source.transfer : source.transfer.id;
}
