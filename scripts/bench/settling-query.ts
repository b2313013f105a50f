/**
 * The settling query's cost on a hot wallet (issue 13): `POST /v1/withdrawals` reads the user's
 * unsettled credits under the balance row lock, so its time bounds one wallet's withdrawals per
 * second. This seeds a scratch database with one wallet (a card credit still pending, then more
 * and more withdrawal holds, as the bench's withdrawal phase makes), a merchant-like wallet with
 * many settled credits, and background users, and times `unsettledCredits` at each size.
 *
 *   npx tsx scripts/bench/settling-query.ts            # DATABASE_OWNER_URL / DATABASE_URL's server
 *
 * The database is dropped at the end (KEEP=1 keeps it). Figures are medians of 200 reads, in ms,
 * each its own transaction. Before the credits index (migration 20261203000110), on a loaded
 * 2-core machine: hot 10–16 ms with no holds, 175–193 ms with 20,000; after: 6–11 ms at every size.
 */
import pg from "pg";
import { createDb, type Db } from "../../src/db/knex.js";
import { migrateLatest } from "../../src/db/migrate.js";
import { unsettledCredits } from "../../src/db/stores/settling.js";

const base = new URL(
  process.env.DATABASE_OWNER_URL ?? process.env.DATABASE_URL ?? "postgres://root@127.0.0.1:5432/coffer",
);
const name = `coffer_settling_query_${process.pid}`;
const url = new URL(base);
url.pathname = `/${name}`;

/** Card credits (`pi_…:captured`) of `user`, each with its charge line and claim; `status` of the lines. */
async function credits(db: Db, user: string, count: number, status: "pending" | "available", tag: string) {
  await db.raw(
    `WITH t AS (
       INSERT INTO wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, currency)
       SELECT 'pi_' || :tag || g || ':captured', 'h', 'payment_captured', 'pi_' || :tag || g, 'usd'
         FROM generate_series(1, :count::int) g RETURNING id, idempotency_key, source_id)
     , e AS (
       INSERT INTO wallet_ledger (transaction_id, account, user_id, currency, amount_minor)
       SELECT id, 'available', :user::text, 'usd', 1000 FROM t
       UNION ALL SELECT id, 'stripe', NULL, 'usd', -1000 FROM t)
     , l AS (
       INSERT INTO stripe_balance_transactions (id, type, reporting_category, source_id, amount_minor, fee_minor,
                                                net_minor, currency, status, created, available_on, match_group)
       SELECT 'txn_' || source_id, 'charge', 'charge', 'ch_' || source_id, 1000, 59, 941, 'usd', :status::text,
              1800000000, 1800172800, 'txn_' || source_id FROM t)
     INSERT INTO stripe_balance_transaction_claims (balance_transaction_id, ledger_key)
     SELECT 'txn_' || source_id, idempotency_key FROM t`,
    { tag, count, user, status },
  );
}

async function holds(db: Db, user: string, from: number, to: number) {
  await db.raw(
    `WITH t AS (
       INSERT INTO wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, currency)
       SELECT 'wd_' || :user || g || ':hold', 'h', 'withdrawal_hold', 'wd_' || :user || g, 'usd'
         FROM generate_series(:from::int, :to::int) g RETURNING id)
     INSERT INTO wallet_ledger (transaction_id, account, user_id, currency, amount_minor)
     SELECT id, 'available', :user, 'usd', -500 FROM t UNION ALL SELECT id, 'held', :user, 'usd', 500 FROM t`,
    { user, from, to },
  );
}

async function median(db: Db, user: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = process.hrtime.bigint();
    await db.transaction((trx) => unsettledCredits(trx, user, ["usd"]));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[100]!;
}

async function main(): Promise<void> {
  await migrateLatest(url.toString());
  const db = createDb(url.toString(), { poolMax: 2 });
  try {
    const users = ["hot", "merchant", ...Array.from({ length: 1_000 }, (_, i) => `bg${i}`)];
    await db.raw(`INSERT INTO users (id) SELECT unnest(?::text[])`, [users]);
    for (let i = 0; i < 1_000; i += 100) {
      for (let j = i; j < i + 100; j++) await credits(db, `bg${j}`, 5, "available", `bg${j}_`);
    }
    await credits(db, "hot", 1, "pending", "hot_");
    await credits(db, "merchant", 5_000, "available", "m_");
    await credits(db, "merchant", 3, "pending", "mp_");
    await db.raw("ANALYZE");
    const rows: string[] = [];
    let made = 0;
    for (const n of [0, 1_000, 5_000, 20_000]) {
      if (n > made) await holds(db, "hot", made + 1, n);
      if (n > made) await holds(db, "merchant", made + 1, n);
      made = n;
      await db.raw("ANALYZE wallet_ledger");
      rows.push(
        `holds ${String(n).padStart(6)}: hot ${(await median(db, "hot")).toFixed(2)} ms, ` +
          `merchant (5,000 settled credits) ${(await median(db, "merchant")).toFixed(2)} ms`,
      );
    }
    for (const r of rows) console.log(r);
  } finally {
    await db.destroy();
    if (process.env.KEEP === "1") console.log(`kept ${name}, for EXPLAIN`);
    else await dropDatabase();
  }
}

async function dropDatabase(): Promise<void> {
  const adminUrl = new URL(base);
  adminUrl.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => admin.end());
}

void main();
