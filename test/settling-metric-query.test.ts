import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../src/db/knex.js";
import { refreshLines, saveLines, type StoredLine } from "../src/db/stores/balance-transactions.js";
import { SETTLING_TOTALS_SQL, settlingTotals, unsettledCredits } from "../src/db/stores/settling.js";
import { settlingMinor } from "../src/ledger/settling.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { startWeb, type WebUnderTest } from "./support/hostile-system.js";
import { rowsRead, type PlanNode } from "./support/plan.js";

/**
 * The settling metric reads only what can still be settling (migration 20261205000100): a
 * merchant with 2,000 settled card credits adds nothing to what the query reads, the figure still
 * equals the sum of what each wallet shows, and a sample that fails is visible on /metrics and in
 * the log instead of leaving an old figure that looks current.
 */
let tdb: TestDb;
let owner: Db;
const SETTLED = 2_000;

/** Card credits of `user` as a top-up's credit is posted: row `succeeded`, entries, no line yet. */
async function credits(user: string, tag: string, count: number, amountMinor: number): Promise<string[]> {
  const { rows } = await owner.raw<{ rows: Array<{ pi: string }> }>(
    `WITH p AS (
       INSERT INTO payment_transactions (id, user_id, purpose, payment_intent_id, amount_minor, currency, status,
                                         amount_received_minor)
       SELECT 'top_' || :tag || g, :user::text, 'wallet_top_up', 'pi_' || :tag || g, :amount::bigint, 'usd',
              'succeeded', :amount::bigint
         FROM generate_series(1, :count::int) g RETURNING payment_intent_id)
     , t AS (
       INSERT INTO wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, currency)
       SELECT payment_intent_id || ':captured', 'h', 'payment_captured', payment_intent_id, 'usd' FROM p
       RETURNING id)
     , e AS (
       INSERT INTO wallet_ledger (transaction_id, account, user_id, currency, amount_minor)
       SELECT id, 'available', :user::text, 'usd', :amount::bigint FROM t
       UNION ALL SELECT id, 'stripe', NULL, 'usd', -:amount::bigint FROM t)
     SELECT payment_intent_id AS pi FROM p`,
    { user, tag, count, amount: amountMinor },
  );
  await owner.raw(
    `INSERT INTO user_wallet_balances (user_id, currency, available_minor) VALUES (?, 'usd', ?)
     ON CONFLICT (user_id, currency) DO UPDATE
       SET available_minor = user_wallet_balances.available_minor + excluded.available_minor`,
    [user, count * amountMinor],
  );
  return rows.map((r) => r.pi);
}

/** The charge lines of these PaymentIntents as the stream stores them (saveLines, with claims). */
function chargeLines(pis: readonly string[], status: "pending" | "available"): StoredLine[] {
  return pis.map((pi) => ({
    id: `txn_${pi}`,
    type: "charge",
    reportingCategory: "charge",
    sourceId: `ch_${pi}`,
    amountMinor: 1_000,
    feeMinor: 0,
    netMinor: 1_000,
    currency: "usd" as StoredLine["currency"],
    exchangeRate: null,
    paymentIntentId: pi,
    withdrawalId: null,
    paymentIsTopUp: true,
    invoiceId: null,
    beforeBooks: false,
    status,
    created: 1_800_000_000,
    availableOn: 1_800_172_800,
    group: `txn_${pi}`,
    unexplained: null,
    claims: [`${pi}:captured`],
  }));
}

/** What the wallets show, summed: each user's settling_minor as the wallet API computes it. */
async function walletsSum(): Promise<number> {
  const rows = await tdb
    .db("user_wallet_balances")
    .where({ currency: "usd" })
    .select("user_id", "available_minor");
  let sum = 0;
  for (const r of rows as Array<{ user_id: string; available_minor: number }>) {
    const unsettled = await tdb.db.transaction((trx) => unsettledCredits(trx, r.user_id, ["usd"]));
    sum += settlingMinor(Number(r.available_minor), unsettled.get("usd") ?? []);
  }
  return sum;
}

const usdTotal = async () =>
  (await settlingTotals(tdb.db)).find((t) => t.currency === "usd")?.settling_minor ?? 0;

let merchant: string[];
let pendingPi: string[];
beforeAll(async () => {
  tdb = await createTestDb();
  owner = createDb(tdb.ownerUrl, { poolMax: 2 });
  await owner.raw(`INSERT INTO users (id) VALUES ('merchant'), ('fresh'), ('waiting')`);
  merchant = await credits("merchant", "m_", SETTLED, 1_000);
  pendingPi = await credits("merchant", "mp_", 1, 700);
  await credits("fresh", "f_", 1, 300); // its line not read yet
  await credits("waiting", "w_", 2, 400);
  await tdb.db.transaction(async (trx) => {
    await saveLines(trx, chargeLines(merchant, "available"));
    await saveLines(trx, chargeLines(pendingPi, "pending"));
    await saveLines(trx, chargeLines(["pi_w_1", "pi_w_2"], "pending"));
  });
  await owner.raw("ANALYZE");
}, 60_000);
afterAll(async () => {
  await owner?.destroy();
  await tdb?.drop();
});

describe("the settling metric's query", () => {
  it("equals the sum of what the wallets show", async () => {
    // merchant: 700 pending; fresh: 300 unread; waiting: 800 pending.
    expect(await walletsSum()).toBe(1_800);
    expect(await usdTotal()).toBe(1_800);
  });

  it("reads nothing of the settled credits' history", async () => {
    const { rows } = await tdb.db.raw<{ rows: Array<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }> }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${SETTLING_TOTALS_SQL}`,
    );
    const read = rowsRead(rows[0]!["QUERY PLAN"][0]!.Plan);
    // 4 credits may be settling; 2,000 are settled. Each table is read a few rows per candidate.
    const tables = [
      "payment_transactions",
      "wallet_ledger_transactions",
      "wallet_ledger",
      "stripe_balance_transaction_claims",
      "stripe_balance_transactions",
    ];
    expect(tables.filter((t) => (read.get(t) ?? 0) > 20).map((t) => `${t}: ${read.get(t)}`)).toEqual([]);
    expect(read.get("wallet_ledger")).toBeGreaterThan(0); // it did read the candidates' entries
    const { rows: indexed } = await tdb.db.raw<{ rows: Array<{ n: number }> }>(
      `SELECT count(*)::int AS n FROM payment_transactions
        WHERE purpose = 'wallet_top_up' AND status = 'succeeded' AND settled_at IS NULL`,
    );
    expect(indexed[0]!.n).toBe(4);
  });

  it("follows Stripe: a line taken back to pending is settling again, and leaves once available", async () => {
    const line = `txn_${merchant[0]!}`;
    await refreshLines(tdb.db, [{ id: line, status: "pending", availableOn: 1_800_300_000 }], 1_800_000_100);
    expect(await walletsSum()).toBe(2_800);
    expect(await usdTotal()).toBe(2_800);
    await refreshLines(
      tdb.db,
      [{ id: line, status: "available", availableOn: 1_800_300_000 }],
      1_800_300_100,
    );
    await refreshLines(tdb.db, [{ id: `txn_${pendingPi[0]!}`, status: "available", availableOn: 1 }], 2);
    expect(await walletsSum()).toBe(1_100);
    expect(await usdTotal()).toBe(1_100);
  });
});

describe("a failed sample", () => {
  let web: WebUnderTest;
  beforeAll(async () => {
    web = await startWeb({}, { tdb });
  });
  afterAll(async () => web?.stop());
  const lines = () => web.lines;

  const scrape = async () => {
    const text = await (await fetch(`${web.url}/metrics`)).text();
    const value = (name: string) => {
      const l = text.split("\n").find((x) => x.startsWith(name));
      return l === undefined ? undefined : Number(l.split(" ").at(-1));
    };
    return {
      usd: value('coffer_settling_minor{currency="usd"}'),
      age: value("coffer_settling_sample_age_seconds"),
    };
  };

  it("keeps the last figure but shows its age, and logs why", async () => {
    const fresh = await scrape();
    expect(fresh.usd).toBe(1_100);
    expect(fresh.age).toBeLessThan(1);

    // A table lock no sample can wait out: the query hits its statement timeout. Sampling is
    // throttled to once per 30 s, so the test moves the clock rather than waiting.
    const blocker = await owner.client.acquireConnection();
    const realNow = Date.now;
    try {
      await owner.raw("BEGIN; LOCK TABLE payment_transactions IN ACCESS EXCLUSIVE MODE").connection(blocker);
      Date.now = () => realNow() + 31_000;
      const stale = await scrape();
      expect(stale.usd).toBe(1_100); // the last figure, kept
      expect(stale.age).toBeGreaterThanOrEqual(31);
      const warned = lines().find((l) => String(l.msg).includes("settling funds could not be read"));
      expect(warned).toMatchObject({ level: 40, sample_age_s: expect.any(Number) });
      expect(warned?.alert).toBeUndefined();

      // Still failing five minutes on: the line is an alert.
      Date.now = () => realNow() + 6 * 60_000;
      const older = await scrape();
      expect(older.age).toBeGreaterThanOrEqual(360);
      expect(lines().some((l) => l.alert === true && l.level === 50)).toBe(true);
    } finally {
      Date.now = realNow;
      await owner.raw("ROLLBACK").connection(blocker);
      owner.client.releaseConnection(blocker);
    }
  }, 30_000);
});
