import type { Db } from "../../src/db/knex.js";
import { postedHashes } from "../../src/db/stores/ledger.js";
import { postOpeningBalances, type PostOutcome } from "../../src/db/stores/legacy-postings.js";
import {
  legacyMismatches,
  readLegacyUsers,
  writeWalletBalanceMinor,
  type LegacyUser,
  type VerifyMismatch,
} from "../../src/db/stores/legacy-users.js";
import { withTransaction, type Trx } from "../../src/db/transaction.js";
import { openingBalance, postingHash, toEntries, type Posting } from "../../src/ledger/index.js";
import { addToTotals, emptyReport, finishReport, type ImportReport } from "../../src/legacy/report.js";
import { roundLegacy, type SkipReason } from "../../src/legacy/round.js";

/**
 * The legacy import (SPEC → Legacy migration): stream users in keyset pages, round
 * each float, post one opening balance per user and currency, write
 * `wallet_balance_minor` in the same transaction, then verify the page against
 * the ledger. Pages are independent (no two share a user), so a few run at once;
 * results are merged in page order, so the report does not depend on timing.
 */

export interface ImportOptions {
  dryRun: boolean;
  batchSize: number;
  /** Pages in flight at once; each holds one pooled connection. */
  concurrency: number;
  progress?: (usersRead: number) => void;
}

interface Importable {
  user: LegacyUser;
  currency: string;
  minor: number;
  exact: boolean;
  decimal: string;
  /** The opening posting; null when the balance rounds to zero and nothing moves. */
  posting: Posting | null;
  key: string;
  hash: string | null;
}

interface Page {
  read: number;
  skipped: Array<{ user: LegacyUser; decimal: string; reason: SkipReason }>;
  importable: Importable[];
}

/**
 * Every statement of the import runs with JIT off. On a freshly loaded table the
 * planner's row estimates are wild, so Postgres JIT-compiled the page queries:
 * 370 ms of compiling a page for a query that runs in 10 ms, which made a rerun
 * of 100,000 users take 45 s instead of a few.
 */
function inTransaction<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
  return withTransaction(db, async (trx) => {
    await trx.raw("SET LOCAL jit = off");
    // Rounding works on the float's shortest round-trip text, which Postgres sends only with
    // extra_float_digits ≥ 1; a server or role set to 0 would turn 0.30000000000000004 into 0.3.
    await trx.raw("SET LOCAL extra_float_digits = 3");
    return fn(trx);
  });
}

function planPage(users: LegacyUser[]): Page {
  const page: Page = { read: users.length, skipped: [], importable: [] };
  for (const user of users) {
    const r = roundLegacy(user.walletBalance, user.walletCurrency);
    if (!r.ok) {
      page.skipped.push({ user, decimal: r.decimal, reason: r.reason });
      continue;
    }
    // A zero-minor posting is built only for its key (verification looks it up); it is never posted.
    const opening = openingBalance(user.id, r.minor, r.currency);
    const posting = r.minor === 0 ? null : opening;
    const hash = posting ? postingHash(posting, toEntries(posting)) : null;
    page.importable.push({
      user,
      currency: r.currency,
      minor: r.minor,
      exact: r.exact,
      decimal: r.decimal,
      posting,
      key: opening.key,
      hash,
    });
  }
  return page;
}

/**
 * Posts what is not in the ledger yet, with `wallet_balance_minor`, in one
 * transaction per page. The dry run makes the same key lookup read-only, so it
 * tells "would import" from "already imported" without writing.
 */
async function applyPage(db: Db, page: Page, dryRun: boolean): Promise<Map<string, PostOutcome>> {
  const moving = page.importable.filter((i) => i.posting !== null);
  return inTransaction(db, async (trx) => {
    if (dryRun) {
      // The database itself refuses any write from a dry run, whatever a later change to this code does.
      await trx.raw("SET TRANSACTION READ ONLY");
      const hashes = await postedHashes(
        trx,
        moving.map((i) => i.key),
      );
      const fate = (i: Importable): PostOutcome => {
        const hash = hashes.get(i.key);
        return hash === undefined ? "imported" : hash === i.hash ? "already" : "conflict";
      };
      return new Map(moving.map((i) => [i.key, fate(i)]));
    }
    const fates = await postOpeningBalances(
      trx,
      moving.map((i) => i.posting!),
    );
    // A conflicting user keeps a null column: the ledger holds something else, and verification says so.
    const settled = page.importable.filter(
      (i) => fates.get(i.key) !== "conflict" && i.user.walletBalanceMinor !== i.minor,
    );
    await writeWalletBalanceMinor(
      trx,
      settled.map((i) => ({ userId: i.user.id, minor: i.minor })),
    );
    return fates;
  });
}

/**
 * After the page committed: every user whose balance should be in the ledger,
 * and `wallet_balance_minor`, written in the same transaction. A dry run has
 * written nothing, so it checks only the ledger of what earlier runs imported
 * (the column of those is what this run would write).
 */
async function verifyPage(db: Db, page: Page, fates: Map<string, PostOutcome>, dryRun: boolean) {
  const due = page.importable.filter((i) => !dryRun || (i.posting && fates.get(i.key) !== "imported"));
  const items = due.map((i) => ({
    userId: i.user.id,
    currency: i.currency,
    key: i.key,
    expectedMinor: i.minor,
  }));
  const mismatches = await inTransaction(db, (trx) => legacyMismatches(trx, items, { checkColumn: !dryRun }));
  return { checked: items.length, mismatches };
}

interface PageResult {
  page: Page;
  fates: Map<string, PostOutcome>;
  checked: number;
  mismatches: VerifyMismatch[];
}

function record(report: ImportReport, { page, fates, checked, mismatches }: PageResult): void {
  const c = report.counts;
  c.usersRead += page.read;
  for (const s of page.skipped) {
    c.skipped += 1;
    report.skipped.push({
      userId: s.user.id,
      value: s.decimal,
      currency: s.user.walletCurrency,
      reason: s.reason,
    });
  }
  for (const i of page.importable) {
    const line = { userId: i.user.id, value: i.decimal, currency: i.currency, minor: i.minor };
    if (!i.exact) {
      c.inexact += 1;
      report.inexact.push(line);
    }
    if (i.minor === 0) {
      c.zero += 1;
      continue;
    }
    const fate = fates.get(i.key);
    if (fate === "conflict") {
      c.conflicts += 1;
      report.conflicts.push(line);
      continue;
    }
    if (fate === "imported") c.imported += 1;
    else c.alreadyImported += 1;
    addToTotals(report, i.currency, i.minor);
    if (i.minor < 0) {
      c.negative += 1;
      report.negative.push(line);
    }
  }
  c.verified += checked;
  c.mismatches += mismatches.length;
  report.mismatches.push(...mismatches);
}

async function runPage(db: Db, users: LegacyUser[], dryRun: boolean): Promise<PageResult> {
  const page = planPage(users);
  const fates = await applyPage(db, page, dryRun);
  return { page, fates, ...(await verifyPage(db, page, fates, dryRun)) };
}

export async function importLegacy(db: Db, opts: ImportOptions): Promise<ImportReport> {
  const report = emptyReport(opts.dryRun, new Date());
  const inFlight: Array<Promise<PageResult>> = [];
  let after: string | null = null;
  for (;;) {
    // Reading the next page does not wait for the previous one to be written: keyset pages are fixed by id.
    const users = await inTransaction(db, (trx) => readLegacyUsers(trx, after, opts.batchSize));
    if (users.length === 0) break;
    after = users.at(-1)!.id;
    const p = runPage(db, users, opts.dryRun);
    p.catch(() => undefined); // awaited below, in order; this only stops an early rejection going unhandled
    inFlight.push(p);
    if (inFlight.length >= opts.concurrency) record(report, await inFlight.shift()!);
    opts.progress?.(report.counts.usersRead);
  }
  for (const p of inFlight) record(report, await p);
  return finishReport(report, new Date());
}
