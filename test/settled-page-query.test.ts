import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../src/db/knex.js";
import { RECORD_SETTLED_SQL, recordSettledPayments } from "../src/db/stores/settling.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { rowsRead, type PlanNode } from "./support/plan.js";

/**
 * The stream saves a page of 100 lines at a time and, with each page, brings its top-ups'
 * `settled_at` up to date. On a first reconciliation the mirror grows by a day's lines (100,000)
 * long before autovacuum analyses it, and the statement was planned for the empty tables its
 * statistics still described: it compared every claim with each of the page's ids and hashed every
 * line for each key (7.7 million rows a page in the bench's first run on 76,600 lines), and a
 * 100,000-line day took minutes instead of seconds. Measured as rows read, never as time.
 */
let tdb: TestDb;
let owner: Db;
const GROWN = 30_000;

/** Lines `txn_<from..to>`, each the charge of `pi_<n>` (a top-up of `u`), claiming its capture. */
async function addLines(from: number, to: number, status: string): Promise<void> {
  await owner.raw(
    `INSERT INTO payment_transactions (id, user_id, purpose, idempotency_key, payment_intent_id, amount_minor,
                                       currency, status, amount_received_minor)
     SELECT 'top_' || g, 'u', 'wallet_top_up', 'k' || g, 'pi_' || g, 1000, 'usd', 'succeeded', 1000
       FROM generate_series(?::int, ?::int) g`,
    [from, to],
  );
  await owner.raw(
    `INSERT INTO stripe_balance_transactions
       (id, type, reporting_category, source_id, amount_minor, fee_minor, net_minor, currency, status,
        created, available_on, match_group, payment_intent_id)
     SELECT 'txn_' || g, 'charge', 'charge', 'ch_' || g, 1000, 59, 941, 'usd', ?, 1700000000 + g,
            1700000000 + g, 'txn_' || g, 'pi_' || g
       FROM generate_series(?::int, ?::int) g`,
    [status, from, to],
  );
  await owner.raw(
    `INSERT INTO stripe_balance_transaction_claims (balance_transaction_id, ledger_key)
     SELECT 'txn_' || g, 'pi_' || g || ':captured' FROM generate_series(?::int, ?::int) g
     UNION ALL SELECT 'txn_' || g, 'txn_' || g || ':fee' FROM generate_series(?::int, ?::int) g`,
    [from, to, from, to],
  );
}

beforeAll(async () => {
  tdb = await createTestDb();
  owner = createDb(tdb.ownerUrl, { poolMax: 2 });
  // Statistics as a first run leaves them: taken while the tables were empty, not since.
  for (const t of [
    "stripe_balance_transactions",
    "stripe_balance_transaction_claims",
    "payment_transactions",
  ])
    await owner.raw(`ALTER TABLE ${t} SET (autovacuum_enabled = false)`);
  await owner.raw(`INSERT INTO users (id) VALUES ('u')`);
  await owner.raw("ANALYZE");
  await addLines(1, GROWN, "available");
}, 60_000);
afterAll(async () => {
  await owner?.destroy();
  await tdb?.drop();
});

const page = (from: number) => Array.from({ length: 100 }, (_, i) => `txn_${from + i}`);

describe("a saved page's settled top-ups", () => {
  it("are marked settled, and only those of the page", async () => {
    await tdb.db.transaction((trx) => recordSettledPayments(trx, page(10_001)));
    const settled = await tdb
      .db("payment_transactions")
      .whereNotNull("settled_at")
      .pluck("payment_intent_id");
    expect([...settled].sort()).toEqual(
      page(10_001)
        .map((id) => id.replace("txn_", "pi_"))
        .sort(),
    );
  });

  it("read the page's lines and claims, not the mirror, however stale its statistics", async () => {
    let plan: PlanNode | undefined;
    await tdb.db
      .transaction(async (trx) => {
        const { rows } = await trx.raw<{ rows: Array<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }> }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${RECORD_SETTLED_SQL}`,
          [page(20_001)],
        );
        plan = rows[0]!["QUERY PLAN"][0]!.Plan;
        throw new Error("rollback");
      })
      .catch((err: unknown) => {
        if (!(err instanceof Error) || err.message !== "rollback") throw err;
      });
    const read = rowsRead(plan!);
    const lines = read.get("stripe_balance_transactions") ?? 0;
    const claims = read.get("stripe_balance_transaction_claims") ?? 0;
    // 100 lines, 200 claims, 100 top-ups: a few rows each, whatever the tables hold.
    expect(lines, JSON.stringify([...read])).toBeGreaterThanOrEqual(100);
    expect(lines, JSON.stringify([...read])).toBeLessThanOrEqual(400);
    expect(claims, JSON.stringify([...read])).toBeGreaterThanOrEqual(100);
    expect(claims, JSON.stringify([...read])).toBeLessThanOrEqual(1_000);
  });
});
