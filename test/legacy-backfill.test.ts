import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInvariants } from "../src/db/stores/ledger-checks.js";
import { postPosting } from "../src/db/stores/ledger.js";
import { withTransaction } from "../src/db/transaction.js";
import { openingBalance } from "../src/ledger/index.js";
import type { ImportReport } from "../src/legacy/report.js";
import { roundLegacy, type SkipReason } from "../src/legacy/round.js";
import type { Currency } from "../src/money/currencies.js";
import { createTestDb, type TestDb } from "./support/db.js";

/**
 * SPEC → Legacy migration, over 100,000 generated users and the values that
 * break naive imports. The script runs as the operator runs it, as a child
 * process; expected amounts are computed here from the generator's formula,
 * never by the import's own rounding.
 */

describe("roundLegacy", () => {
  const ok = (minor: number, exact: boolean, currency = "usd") => ({ ok: true, minor, exact, currency });
  it.each([
    [0.1 + 0.2, "usd", ok(30, false), "0.30000000000000004"],
    [10.005, "usd", ok(1001, false), "10.005"], // the double is 10.00499…; its shortest string is not
    [-5.5, "usd", ok(-550, true), "-5.5"],
    [1e-9, "usd", ok(0, false), "1e-9"],
    [-1e-9, "usd", ok(0, false), "-1e-9"],
    [100.5, "jpy", ok(101, false, "jpy"), "100.5"],
    [1.2345, "kwd", ok(1235, false, "kwd"), "1.2345"],
    [-0.005, "usd", ok(-1, false), "-0.005"],
    [-0.004, "usd", ok(0, false), "-0.004"],
    [7.25, null, ok(725, true), "7.25"],
    [3.3, "EUR", ok(330, true, "eur"), "3.3"],
    [0, "usd", ok(0, true), "0"],
    [-0, "usd", ok(0, true), "0"],
    [5e-324, "usd", ok(0, false), "5e-324"],
    [1.5e-7, "kwd", ok(0, false, "kwd"), "1.5e-7"],
    [90071992547409.9, "usd", ok(9007199254740990, true), "90071992547409.9"],
    [9007199254740991, "jpy", ok(9007199254740991, true, "jpy"), "9007199254740991"],
  ])("%s %s", (value, currency, want, decimal) => {
    const r = roundLegacy(value, currency);
    expect(r).toMatchObject({ ...want, decimal });
    if (r.ok) expect(Object.is(r.minor, -0)).toBe(false);
  });

  it.each([
    [NaN, "usd", "nan"],
    [Infinity, "usd", "infinite"],
    [-Infinity, null, "infinite"],
    [1e300, "usd", "too_large"],
    [1.2345e21, "jpy", "too_large"],
    [90071992547409.92, "usd", "too_large"], // 2^53 − 1 minor units plus one cent
    [9007199254740992, "jpy", "too_large"],
    [12.5, "xyz", "unknown_currency"],
    [12.5, " usd", "unknown_currency"], // normalised by case only: anything else is a person's call
  ] as const)("%s %s is skipped: %s", (value, currency, reason) => {
    expect(roundLegacy(value, currency)).toEqual({ ok: false, reason, decimal: String(value) });
  });
});

// ---- the import, end to end ----

const GENERATED = 100_000;
const EXPONENT: Record<string, number> = { usd: 2, eur: 2, gbp: 2, jpy: 0, kwd: 3 };
// One formula, written twice: in SQL to generate the rows, in TS to expect their amounts.
const CURRENCY_SQL = `CASE i % 8 WHEN 0 THEN NULL WHEN 1 THEN 'usd' WHEN 2 THEN 'eur' WHEN 3 THEN 'EUR'
  WHEN 4 THEN 'jpy' WHEN 5 THEN 'kwd' WHEN 6 THEN 'gbp' ELSE 'usd' END`;
const MINOR_SQL = `((i * 7919) % 200003) - 10000`;
function generated(i: number): { currency: string; minor: number } | null {
  if (i % 97 === 0) return null; // no legacy balance at all: not read
  const currency = [null, "usd", "eur", "EUR", "jpy", "kwd", "gbp", "usd"][i % 8] ?? "usd";
  return { currency: currency.toLowerCase(), minor: ((i * 7919) % 200003) - 10000 };
}

interface Special {
  id: string;
  sql: string;
  currency: string | null;
  value: string;
  minor?: number;
  exact?: boolean;
  reason?: SkipReason;
}
const SPECIAL: Special[] = [
  {
    id: "legacy-a",
    sql: `'0.1'::float8 + '0.2'::float8`,
    currency: "usd",
    value: "0.30000000000000004",
    minor: 30,
    exact: false,
  },
  { id: "legacy-b", sql: `'10.005'`, currency: "usd", value: "10.005", minor: 1001, exact: false },
  { id: "legacy-c", sql: `'1e-9'`, currency: "usd", value: "1e-9", minor: 0, exact: false },
  { id: "legacy-d", sql: `'-5.5'`, currency: "usd", value: "-5.5", minor: -550, exact: true },
  { id: "legacy-e", sql: `'NaN'`, currency: "usd", value: "NaN", reason: "nan" },
  { id: "legacy-f", sql: `'Infinity'`, currency: "usd", value: "Infinity", reason: "infinite" },
  { id: "legacy-g", sql: `'-Infinity'`, currency: null, value: "-Infinity", reason: "infinite" },
  { id: "legacy-h", sql: `'1e300'`, currency: "usd", value: "1e+300", reason: "too_large" },
  { id: "legacy-i", sql: `'100.5'`, currency: "jpy", value: "100.5", minor: 101, exact: false },
  { id: "legacy-j", sql: `'1.2345'`, currency: "kwd", value: "1.2345", minor: 1235, exact: false },
  { id: "legacy-k", sql: `'12.5'`, currency: "xyz", value: "12.5", reason: "unknown_currency" },
  { id: "legacy-l", sql: `'7.25'`, currency: null, value: "7.25", minor: 725, exact: true },
  { id: "legacy-m", sql: `'3.3'`, currency: "EUR", value: "3.3", minor: 330, exact: true },
  { id: "legacy-n", sql: `'-0.005'`, currency: "usd", value: "-0.005", minor: -1, exact: false },
  {
    id: "legacy-o",
    sql: `'90071992547409.92'`,
    currency: "usd",
    value: "90071992547409.92",
    reason: "too_large",
  },
  { id: "legacy-p", sql: `'0'`, currency: "usd", value: "0", minor: 0, exact: true },
  { id: "legacy-q", sql: `'1.2345e21'`, currency: "jpy", value: "1.2345e+21", reason: "too_large" },
  // Posted by postPosting before the import runs: the import's own writer must agree on its hash.
  { id: "legacy-r", sql: `'42.42'`, currency: "gbp", value: "42.42", minor: 4242, exact: true },
];
const norm = (c: string | null) => (c ?? "usd").toLowerCase();

/** Everything the import should hold, computed without its code. */
function expected() {
  const totals: Record<string, bigint> = {};
  let read = 0;
  let nonZero = 0;
  let zero = 0;
  let negative = 0;
  const add = (currency: string, minor: number) => {
    if (minor === 0) return void (zero += 1);
    nonZero += 1;
    if (minor < 0) negative += 1;
    totals[currency] = (totals[currency] ?? 0n) + BigInt(minor);
  };
  for (let i = 1; i <= GENERATED; i++) {
    const g = generated(i);
    if (!g) continue;
    read += 1;
    add(g.currency, g.minor);
  }
  for (const s of SPECIAL) {
    read += 1;
    if (s.minor !== undefined) add(norm(s.currency), s.minor);
  }
  const skipped = SPECIAL.filter((s) => s.reason).length;
  return { totals, read, nonZero, zero, negative, skipped };
}

let tdb: TestDb;
let dir: string;
let legacyBefore: string;
const ROOT = new URL("../", import.meta.url).pathname;

/** `npm run backfill:legacy` as the operator runs it; the child sees only what a shell would give it. */
function backfill(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? "", DATABASE_URL: tdb.url, NODE_ENV: "test" };
    const proc = spawn(process.execPath, ["--import", "tsx", "scripts/backfill-legacy.ts", ...args], {
      cwd: ROOT,
      env,
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
const readReport = (name: string) => JSON.parse(readFileSync(join(dir, name), "utf8")) as ImportReport;

async function ledgerCounts() {
  const { rows } = await tdb.db.raw<{ rows: Array<Record<string, number>> }>(
    `SELECT (SELECT count(*) FROM wallet_ledger_transactions)::int AS txns,
            (SELECT count(*) FROM wallet_ledger)::int AS entries,
            (SELECT count(*) FROM user_wallet_balances)::int AS balances,
            (SELECT coalesce(max(version), 0) FROM user_wallet_balances)::int AS max_version,
            (SELECT count(*) FROM users WHERE wallet_balance_minor IS NOT NULL)::int AS columns_written`,
  );
  return rows[0]!;
}

/** A fingerprint of the legacy columns, which Coffer must never write. */
async function legacyFingerprint(): Promise<string> {
  const { rows } = await tdb.db.raw<{ rows: Array<{ md5: string }> }>(
    `SELECT md5(string_agg(id || '|' || coalesce(wallet_balance::text, '-') || '|' || coalesce(wallet_currency, '-'),
                           ',' ORDER BY id COLLATE "C")) AS md5 FROM users`,
  );
  return rows[0]!.md5;
}

beforeAll(async () => {
  tdb = await createTestDb();
  dir = mkdtempSync(join(tmpdir(), "coffer-legacy-"));
  await tdb.db.raw(
    `INSERT INTO users (id, wallet_balance, wallet_currency)
     SELECT 'u' || lpad(i::text, 6, '0'),
            CASE WHEN i % 97 = 0 THEN NULL
                 ELSE (${MINOR_SQL})::float8 / (10 ^ (CASE ${CURRENCY_SQL} WHEN 'jpy' THEN 0 WHEN 'kwd' THEN 3 ELSE 2 END)) END,
            ${CURRENCY_SQL}
       FROM generate_series(1, ${GENERATED}) AS i`,
  );
  const values = SPECIAL.map(
    (s) => `('${s.id}', (${s.sql})::float8, ${s.currency ? `'${s.currency}'` : "NULL"})`,
  );
  await tdb.db.raw(`INSERT INTO users (id, wallet_balance, wallet_currency) VALUES ${values.join(", ")}`);
  await withTransaction(tdb.db, (trx) =>
    postPosting(trx, openingBalance("legacy-r", 4242, "gbp" as Currency)),
  );
  legacyBefore = await legacyFingerprint();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await tdb?.drop();
});

describe("backfill:legacy", () => {
  it("the generator's float division gives every generated amount its exact decimal", () => {
    // The premise of the expectations below: k / 10^e as a double prints as that decimal.
    for (let i = 1; i <= GENERATED; i += 37) {
      const g = generated(i);
      if (!g) continue;
      const r = roundLegacy(g.minor / 10 ** EXPONENT[g.currency]!, g.currency);
      expect(r).toMatchObject({ ok: true, minor: g.minor, exact: true });
    }
  });

  it("a dry run writes nothing and reports what it would do", { timeout: 90_000 }, async () => {
    const before = await ledgerCounts();
    const run = await backfill("--dry-run", "--report", join(dir, "dry.json"));
    expect(run.code, run.stderr).toBe(0);
    expect(await ledgerCounts()).toEqual(before); // only legacy-r's own posting
    expect(before).toMatchObject({ txns: 1, columns_written: 0 });
    expect(await legacyFingerprint()).toBe(legacyBefore);

    const report = readReport("dry.json");
    const e = expected();
    expect(report.dryRun).toBe(true);
    expect(report.counts).toMatchObject({ usersRead: e.read, imported: e.nonZero - 1, alreadyImported: 1 });
    expect(run.stdout).toContain("dry run: nothing written");
  });

  it("imports every importable value exactly and reports the rest", { timeout: 90_000 }, async () => {
    const run = await backfill("--report", join(dir, "real.json"));
    expect(run.code, run.stderr).toBe(0);
    const report = readReport("real.json");
    const e = expected();

    expect(report.counts).toEqual({
      usersRead: e.read,
      imported: e.nonZero - 1,
      alreadyImported: 1, // legacy-r
      zero: e.zero,
      inexact: SPECIAL.filter((s) => s.exact === false).length,
      skipped: e.skipped,
      negative: e.negative,
      conflicts: 0,
      verified: e.read - e.skipped,
      mismatches: 0,
    });
    const totals = Object.fromEntries(Object.entries(report.totals).map(([c, t]) => [c, BigInt(t.netMinor)]));
    expect(totals).toEqual(e.totals);

    // The books, per currency: the users' side and opening_balance's side both equal the expectation.
    const { rows } = await tdb.db.raw<{ rows: Array<{ currency: string; users: string; opening: string }> }>(
      `SELECT currency, sum(amount_minor) FILTER (WHERE account = 'available')::text AS users,
              sum(amount_minor) FILTER (WHERE account = 'opening_balance')::text AS opening
         FROM wallet_ledger GROUP BY currency`,
    );
    for (const r of rows) {
      expect(BigInt(r.users), r.currency).toBe(e.totals[r.currency]);
      expect(BigInt(r.opening), r.currency).toBe(-e.totals[r.currency]!);
    }
    expect(rows.map((r) => r.currency).sort()).toEqual(Object.keys(e.totals).sort());

    // Every generated user, against the formula in SQL: the column, and the wallet when non-zero.
    const wrong = await tdb.db.raw<{ rows: Array<{ n: number }> }>(
      `SELECT count(*)::int AS n FROM (SELECT substr(id, 2)::int AS i, * FROM users WHERE id LIKE 'u%') u
         LEFT JOIN user_wallet_balances b ON b.user_id = u.id
        WHERE CASE WHEN i % 97 = 0 THEN u.wallet_balance_minor IS NOT NULL OR b.user_id IS NOT NULL
                   ELSE u.wallet_balance_minor IS DISTINCT FROM ${MINOR_SQL}
                     OR coalesce(b.available_minor, 0) <> ${MINOR_SQL}
                     OR (b.user_id IS NOT NULL AND b.currency <> lower(coalesce(u.wallet_currency, 'usd'))) END`,
    );
    expect(wrong.rows[0]!.n).toBe(0);

    // Every special row: what it holds, and where the report lists it.
    const special = await tdb.db.raw<{
      rows: Array<{ id: string; col: number | null; currency: string | null; available: number | null }>;
    }>(
      `SELECT u.id, u.wallet_balance_minor AS col, b.currency, b.available_minor AS available
         FROM users u LEFT JOIN user_wallet_balances b ON b.user_id = u.id WHERE u.id LIKE 'legacy-%'`,
    );
    const byId = new Map(special.rows.map((r) => [r.id, r]));
    for (const s of SPECIAL) {
      const row = byId.get(s.id)!;
      const holds =
        s.minor === undefined || s.minor === 0
          ? { col: s.minor ?? null, currency: null, available: null }
          : { col: s.minor, currency: norm(s.currency), available: s.minor };
      expect(row, s.id).toEqual({ id: s.id, ...holds });
    }
    const inexact = SPECIAL.filter((s) => s.exact === false);
    expect(report.inexact).toEqual(
      inexact.map((s) => ({ userId: s.id, value: s.value, currency: norm(s.currency), minor: s.minor })),
    );
    const skipped = SPECIAL.filter((s) => s.reason);
    expect(report.skipped).toEqual(
      skipped.map((s) => ({ userId: s.id, value: s.value, currency: s.currency, reason: s.reason })),
    );
    expect(report.negative).toHaveLength(e.negative);
    expect(report.negative).toContainEqual({
      userId: "legacy-d",
      value: "-5.5",
      currency: "usd",
      minor: -550,
    });
    for (const s of [...inexact, ...skipped]) expect(run.stdout).toContain(s.id);

    const check = await checkInvariants(tdb.db);
    expect(check.violations).toEqual([]);
    expect(check.negativeBalances).toHaveLength(e.negative);
    expect(await legacyFingerprint()).toBe(legacyBefore);
  });

  it("a rerun, dry or not, moves nothing and says it was already imported", { timeout: 90_000 }, async () => {
    const before = await ledgerCounts();
    const first = readReport("real.json");
    for (const [args, name] of [
      [["--dry-run"], "dry-again.json"],
      [[], "again.json"],
    ] as const) {
      const run = await backfill(...args, "--report", join(dir, name));
      expect(run.code, run.stderr).toBe(0);
      expect(await ledgerCounts()).toEqual(before);
      const report = readReport(name);
      const e = expected();
      expect(report.counts).toMatchObject({ imported: 0, alreadyImported: e.nonZero, mismatches: 0 });
      expect([report.totals, report.inexact, report.skipped]).toEqual([
        first.totals,
        first.inexact,
        first.skipped,
      ]);
    }
    expect((await checkInvariants(tdb.db)).ok).toBe(true);
    expect(await legacyFingerprint()).toBe(legacyBefore);
  });

  it(
    "exits non-zero when the ledger already holds another amount for a user",
    { timeout: 90_000 },
    async () => {
      await tdb.db.raw(
        `INSERT INTO users (id, wallet_balance, wallet_currency) VALUES ('legacy-z', 12.34, 'usd')`,
      );
      await withTransaction(tdb.db, (trx) =>
        postPosting(trx, openingBalance("legacy-z", 1235, "usd" as Currency)),
      );
      const before = await ledgerCounts();

      const run = await backfill("--report", join(dir, "conflict.json"));
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("verification FAILED");
      const report = readReport("conflict.json");
      expect(report.conflicts).toEqual([
        { userId: "legacy-z", value: "12.34", currency: "usd", minor: 1234 },
      ]);
      expect(report.mismatches).toEqual([
        {
          userId: "legacy-z",
          currency: "usd",
          expectedMinor: "1234",
          ledgerMinor: "1235",
          columnMinor: null,
        },
      ]);
      expect(await ledgerCounts()).toEqual(before);
    },
  );
});
