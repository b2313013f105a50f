import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { promisify } from "node:util";
import pg from "pg";

/**
 * What the database itself can do: the raw posting transaction under pgbench, on Coffer's own
 * tables with their indexes and triggers, with as many clients as a worker has job slots, and
 * synchronous_commit on: lock the balance row, insert the transaction and its two entries, update
 * the balance. Coffer's webhook-to-balance rate is reported as a share of this.
 */
const SCRIPT = `\\set w random(1, :wallets)
BEGIN;
SELECT available_minor FROM user_wallet_balances
 WHERE user_id = 'rawsql_' || :w AND currency = 'usd' FOR NO KEY UPDATE;
WITH t AS (
  INSERT INTO wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, currency)
  VALUES (gen_random_uuid()::text, 'raw', 'payment_captured', 'pi_raw', 'usd') RETURNING id)
INSERT INTO wallet_ledger (transaction_id, account, user_id, currency, amount_minor)
SELECT t.id, e.account, e.user_id, 'usd', e.amount
  FROM t, (VALUES ('stripe', NULL, -100::bigint), ('available', 'rawsql_' || :w, 100::bigint)) e (account, user_id, amount);
UPDATE user_wallet_balances SET available_minor = available_minor + 100, version = version + 1, updated_at = now()
 WHERE user_id = 'rawsql_' || :w AND currency = 'usd';
END;
`;

export async function hasPgbench(): Promise<boolean> {
  return promisify(execFile)("pgbench", ["--version"]).then(
    () => true,
    () => false,
  );
}

/** Transactions per second of the raw posting, and how many, over `wallets` wallets, for `seconds`. */
export async function rawPostingsPerS(o: {
  databaseUrl: string;
  clients: number;
  wallets: number;
  seconds: number;
}): Promise<{ perS: number; count: number }> {
  const client = new pg.Client({ connectionString: o.databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO users (id) SELECT 'rawsql_' || g FROM generate_series(1, $1) g ON CONFLICT DO NOTHING`,
      [o.wallets],
    );
    await client.query(
      `INSERT INTO user_wallet_balances (user_id, currency)
       SELECT 'rawsql_' || g, 'usd' FROM generate_series(1, $1) g ON CONFLICT DO NOTHING`,
      [o.wallets],
    );
  } finally {
    await client.end();
  }
  const file = `/tmp/coffer-bench-raw-${process.pid}.sql`;
  writeFileSync(file, SCRIPT);
  const { stdout } = await promisify(execFile)("pgbench", [
    "-n",
    "-M",
    "prepared",
    "-c",
    String(o.clients),
    "-j",
    "2",
    "-T",
    String(o.seconds),
    "-D",
    `wallets=${o.wallets}`,
    "-f",
    file,
    o.databaseUrl,
  ]);
  const tps = /tps = ([\d.]+)/.exec(stdout)?.[1];
  const count = /actually processed: (\d+)/.exec(stdout)?.[1];
  if (!tps || !count) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return { perS: Number(tps), count: Number(count) };
}
