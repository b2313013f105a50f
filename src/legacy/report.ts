import type { SkipReason } from "./round.js";

/**
 * What the legacy import did, built up batch by batch and written out twice: as
 * text for the operator and as JSON for the record. Pure, so the dry run and the
 * real run can only differ in what they write to the database.
 *
 * Every user read lands in exactly one of: imported, alreadyImported, zero,
 * skipped, conflicts. `inexact` and `negative` cut across those (a 1e-9 is both
 * zero and inexact; a -5.5 is imported and negative).
 */

export interface ReportCounts {
  usersRead: number;
  imported: number;
  alreadyImported: number;
  zero: number;
  inexact: number;
  skipped: number;
  negative: number;
  /** The key exists with other amounts: the ledger holds something this run would not post. */
  conflicts: number;
  verified: number;
  mismatches: number;
}

export interface CurrencyTotal {
  users: number;
  /** Signed sum of what the ledger holds from the import, in minor units, as a string (it may pass 2^53). */
  netMinor: string;
  creditMinor: string;
  debitMinor: string;
}

export interface ValueLine {
  userId: string;
  /** The legacy double as its shortest decimal string. */
  value: string;
  currency: string | null;
}

export interface ImportReport {
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  counts: ReportCounts;
  totals: Record<string, CurrencyTotal>;
  inexact: Array<ValueLine & { minor: number }>;
  skipped: Array<ValueLine & { reason: SkipReason }>;
  negative: Array<ValueLine & { minor: number }>;
  conflicts: Array<ValueLine & { minor: number }>;
  mismatches: Array<{
    userId: string;
    currency: string;
    expectedMinor: string;
    ledgerMinor: string;
    columnMinor: string | null;
  }>;
}

export function emptyReport(dryRun: boolean, startedAt: Date): ImportReport {
  return {
    dryRun,
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    counts: {
      usersRead: 0,
      imported: 0,
      alreadyImported: 0,
      zero: 0,
      inexact: 0,
      skipped: 0,
      negative: 0,
      conflicts: 0,
      verified: 0,
      mismatches: 0,
    },
    totals: {},
    inexact: [],
    skipped: [],
    negative: [],
    conflicts: [],
    mismatches: [],
  };
}

/** Adds one balance that is (or already was) in the ledger to its currency's totals. */
export function addToTotals(report: ImportReport, currency: string, minor: number): void {
  const t = (report.totals[currency] ??= { users: 0, netMinor: "0", creditMinor: "0", debitMinor: "0" });
  // BigInt: a currency's total over many users may pass what a double holds exactly.
  const m = BigInt(minor);
  t.users += 1;
  t.netMinor = String(BigInt(t.netMinor) + m);
  if (m > 0n) t.creditMinor = String(BigInt(t.creditMinor) + m);
  else t.debitMinor = String(BigInt(t.debitMinor) - m);
}

/** Totals sorted by currency, so two runs over the same data write the same JSON. */
export function finishReport(report: ImportReport, finishedAt: Date): ImportReport {
  const totals = Object.fromEntries(Object.entries(report.totals).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { ...report, totals, finishedAt: finishedAt.toISOString() };
}

/** At most this many lines per list on stdout; the JSON file always has them all. */
const TEXT_LIST_LIMIT = 50;

export function renderText(r: ImportReport, reportPath: string): string {
  const c = r.counts;
  const out = [
    `legacy import${r.dryRun ? " (dry run: nothing written)" : ""}`,
    `  users read         ${c.usersRead}`,
    `  ${r.dryRun ? "would import     " : "imported         "}  ${c.imported}`,
    `  already imported   ${c.alreadyImported}`,
    `  zero               ${c.zero}`,
    `  inexact            ${c.inexact}`,
    `  skipped            ${c.skipped}`,
    `  negative (flagged) ${c.negative}`,
    `  conflicts          ${c.conflicts}`,
    `  verified           ${c.verified}, mismatches ${c.mismatches}`,
    `totals (minor units)`,
    ...Object.entries(r.totals).map(
      ([cur, t]) =>
        `  ${cur}  users ${t.users}  net ${t.netMinor}  credit ${t.creditMinor}  debit ${t.debitMinor}`,
    ),
  ];
  const list = <T>(title: string, items: T[], line: (i: T) => string) => {
    if (items.length === 0) return;
    out.push(`${title} (${items.length})`);
    for (const i of items.slice(0, TEXT_LIST_LIMIT)) out.push(`  ${line(i)}`);
    if (items.length > TEXT_LIST_LIMIT)
      out.push(`  … ${items.length - TEXT_LIST_LIMIT} more in ${reportPath}`);
  };
  const who = (v: ValueLine) => `${v.userId}  ${v.value} ${v.currency ?? "(null: usd)"}`;
  list("mismatches", r.mismatches, (m) => {
    const col = m.columnMinor ?? "null";
    return `${m.userId}  ${m.currency}  expected ${m.expectedMinor}  ledger ${m.ledgerMinor}  column ${col}`;
  });
  list("conflicts", r.conflicts, (v) => `${who(v)} → ${v.minor}, but the ledger holds other amounts`);
  list("skipped", r.skipped, (v) => `${who(v)}  ${v.reason}`);
  list("inexact", r.inexact, (v) => `${who(v)} → ${v.minor}`);
  list("negative", r.negative, (v) => `${who(v)} → ${v.minor}`);
  out.push(`report: ${reportPath}`);
  return `${out.join("\n")}\n`;
}
