import type pg from "pg";
import type Stripe from "stripe";
import { BALANCE_CURSOR } from "../../src/db/stores/balance-transactions.js";
import { processingFee } from "../../src/ledger/movements.js";
import { postingHash, toEntries } from "../../src/ledger/posting.js";
import { isKnownCurrency } from "../../src/money/currencies.js";
import { handleApiRequest } from "../../src/standin/api.js";
import { Runtime, type StandinConfig } from "../../src/standin/runtime.js";
import { PLATFORM } from "../../src/standin/state.js";

/**
 * One generated day for the reconciliation bench, the same on both sides without
 * passing data between them: line `i` is a top-up whose amount, ids, user and
 * second are functions of `i`, computed here for the stand-in and by the same
 * formulas in SQL for the ledger. Every line is a captured charge, so the day
 * reconciles with nothing unmatched.
 *
 * Terminology
 * - **line**: one balance transaction (`txn_bench…`) of type `charge`, with its
 *   charge (`ch_bench…`) and PaymentIntent (`pi_bench…`).
 * - **padding**: withdrawal holds (available → held) that never touch `stripe`, so
 *   the line check has a full day of entries to skip; they bring the ledger to
 *   `entries` rows.
 */
export interface Day {
  lines: number;
  /** Total wallet_ledger rows: 4 per line (capture and fee), the rest padding, 2 per hold. */
  entries: number;
  users: number;
  from: Date;
  to: Date;
  currency: "usd";
}

const DAY_S = 86_400;
// Amounts 5.00 to 999.99, spread by a step prime to the range so neighbours differ.
const AMOUNT_MIN = 500;
const AMOUNT_RANGE = 99_500;
const AMOUNT_STEP = 7_919;
const ID_DIGITS = 16;

/** Stripe's defaults, as startStandin sets them; every currency settles as itself. */
export const STANDIN_CONFIG: StandinConfig = {
  feeBps: 290,
  feeFixedMinor: 30,
  settlementCurrencies: undefined,
};

/** A Day through an environment variable, for the stand-in's own process. */
export const dayToJson = (day: Day) => JSON.stringify(day);
export function dayFromJson(text: string): Day {
  const d = JSON.parse(text) as Omit<Day, "from" | "to"> & { from: string; to: string };
  return { ...d, from: new Date(d.from), to: new Date(d.to) };
}

export const holdsOf = (day: Day) => Math.max(0, Math.floor((day.entries - 4 * day.lines) / 2));
const amountOf = (i: number) => AMOUNT_MIN + ((i * AMOUNT_STEP) % AMOUNT_RANGE);
const createdOf = (day: Day, i: number, count: number) =>
  Math.floor(day.from.getTime() / 1000) + Math.floor((i * DAY_S) / count);
const pad = (i: number) => String(i).padStart(ID_DIGITS, "0");

/** Stripe's fee as the stand-in books it on a charge (src/standin/resources/balance-transactions.ts). */
const feeOf = (config: StandinConfig, amountMinor: number) =>
  Math.round((amountMinor * config.feeBps) / 10_000) + config.feeFixedMinor;

/**
 * One real top-up through the stand-in's own API, in a scratch instance: its
 * PaymentIntent, charge and balance transaction are the shapes every seeded line
 * copies, so the bench pages what the stand-in really serves and repeats none of
 * its fields here.
 */
async function templates(config: StandinConfig) {
  const scratch = new Runtime(config, { info: () => {}, warn: () => {} });
  const reply = await handleApiRequest(scratch, {
    method: "POST",
    path: "/v1/payment_intents",
    query: "",
    body: "amount=1000&currency=usd&confirm=true&payment_method=pm_card_visa&metadata[user_id]=u",
    headers: { authorization: "Bearer sk_test_bench" },
  });
  const pi = scratch.store.all("payment_intent")[0];
  const charge = scratch.store.all("charge")[0];
  const txn = scratch.store.all("balance_transaction")[0];
  if (reply.status !== 200 || !pi || !charge || !txn) throw new Error(`template top-up: ${reply.body}`);
  return { pi, charge, txn };
}

/**
 * Puts the day's lines straight into the stand-in's store, oldest first (the order
 * its lists page in), available and counted in its balance. Nested objects are
 * shared with the template: nothing in this run mutates them.
 */
export async function seedStandin(rt: Runtime, day: Day): Promise<{ netMinor: number }> {
  const t = await templates(rt.config);
  if (t.txn.fee !== feeOf(rt.config, t.txn.amount))
    throw new Error("the stand-in's fee formula changed: update feeOf");
  let netMinor = 0;
  for (let i = 0; i < day.lines; i++) {
    const amount = amountOf(i);
    const fee = feeOf(rt.config, amount);
    const created = createdOf(day, i, day.lines);
    const [piId, chargeId, txnId] = [`pi_bench${pad(i)}`, `ch_bench${pad(i)}`, `txn_bench${pad(i)}`];
    const metadata = { user_id: `bench_user_${i % day.users}` };
    const pi: Stripe.PaymentIntent = {
      ...t.pi,
      id: piId,
      amount,
      amount_received: amount,
      created,
      client_secret: `${piId}_secret_bench`,
      latest_charge: chargeId,
      metadata,
    };
    const charge: Stripe.Charge = {
      ...t.charge,
      id: chargeId,
      amount,
      amount_captured: amount,
      created,
      balance_transaction: txnId,
      payment_intent: piId,
      metadata,
      refunds: t.charge.refunds && { ...t.charge.refunds, url: `/v1/charges/${chargeId}/refunds` },
    };
    const txn: Stripe.BalanceTransaction = {
      ...t.txn,
      id: txnId,
      amount,
      fee,
      fee_details: t.txn.fee_details.map((d) => ({ ...d, amount: fee })),
      net: amount - fee,
      created,
      available_on: created,
      status: "available",
      source: chargeId,
    };
    rt.store.insert(PLATFORM, "payment_intent", pi);
    rt.store.insert(PLATFORM, "charge", charge);
    rt.store.insert(PLATFORM, "balance_transaction", txn);
    rt.funds.book(PLATFORM, txn);
    netMinor += txn.net;
  }
  return { netMinor };
}

/**
 * The fee postings' hashes, one per amount a line can have: the stream compares
 * them with the fees it would book, so they must be what postPosting would have
 * stored. The stand-in runs with STANDIN_CONFIG, so its fees are these.
 * The other postings' hashes are never compared by a run and are placeholders.
 */
function feeTable(day: Day) {
  if (!isKnownCurrency(day.currency)) throw new Error(`unknown currency ${day.currency}`);
  const currency = day.currency;
  const amounts: number[] = [];
  const fees: number[] = [];
  const hashes: string[] = [];
  for (let a = AMOUNT_MIN; a < AMOUNT_MIN + AMOUNT_RANGE; a++) {
    const fee = feeOf(STANDIN_CONFIG, a);
    const posting = processingFee("txn", { amountMinor: fee, currency });
    amounts.push(a);
    fees.push(fee);
    hashes.push(postingHash(posting, toEntries(posting)));
  }
  return { amounts, fees, hashes };
}

// $1 how many, $2 window start (unix s); line i's amount and second as amountOf and createdOf compute them.
const LINE = `generate_series(0::bigint, $1::bigint - 1) i`;
const AMOUNT = (i: string) => `(${AMOUNT_MIN} + (${i} * ${AMOUNT_STEP}) % ${AMOUNT_RANGE})`;
const AT = (i: string, count: string) => `to_timestamp($2::bigint + (${i} * ${DAY_S}) / ${count})`;
const ID = (prefix: string, i: string) => `'${prefix}' || lpad(${i}::text, ${ID_DIGITS}, '0')`;
const INDEX = `right(t.source_id, ${ID_DIGITS})::bigint`;
const ENTRY_COLUMNS = `wallet_ledger (transaction_id, account, user_id, currency, amount_minor, created_at)`;
const TXN_COLUMNS = `wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, currency, created_at)`;

/**
 * The ledger side in five statements, each an INSERT … SELECT over generate_series:
 * users, captures (stripe → available), their top-ups, fees (stripe_fees → stripe) and holds.
 * Entries carry their transaction's time, all inside the window.
 */
export async function seedLedger(client: pg.ClientBase, day: Day): Promise<void> {
  const from = Math.floor(day.from.getTime() / 1000);
  await client.query(
    `INSERT INTO users (id) SELECT 'bench_user_' || u FROM generate_series(0, $1::int - 1) u`,
    [day.users],
  );
  await client.query(
    `WITH t AS (
       INSERT INTO ${TXN_COLUMNS}
       SELECT ${ID("pi_bench", "i")} || ':captured', 'bench', 'payment_captured', ${ID("pi_bench", "i")},
              'usd', ${AT("i", "$1::int")} FROM ${LINE}
       RETURNING id, source_id, created_at)
     INSERT INTO ${ENTRY_COLUMNS}
     SELECT t.id, e.account, e.user_id, 'usd', e.amount, t.created_at
       FROM t, LATERAL (SELECT ${INDEX} AS i) n,
            LATERAL (VALUES ('stripe', NULL::text, -${AMOUNT("n.i")}),
                            ('available', 'bench_user_' || n.i % $3::int, ${AMOUNT("n.i")})) e(account, user_id, amount)`,
    [day.lines, from, day.users],
  );
  // The top-ups behind the charges: only a Coffer top-up's lines are Coffer's to claim and book.
  await client.query(
    `INSERT INTO payment_transactions (id, user_id, purpose, payment_intent_id, amount_minor, currency, status,
                                       amount_received_minor)
     SELECT ${ID("top_bench", "i")}, 'bench_user_' || i % $2::int, 'wallet_top_up', ${ID("pi_bench", "i")},
            ${AMOUNT("i")}, 'usd', 'succeeded', ${AMOUNT("i")} FROM ${LINE}`,
    [day.lines, day.users],
  );
  const fees = feeTable(day);
  await client.query(
    `WITH f AS (SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::text[]) AS f(amount, fee, hash)),
     t AS (
       INSERT INTO ${TXN_COLUMNS}
       SELECT ${ID("txn_bench", "i")} || ':fee', f.hash, 'processing_fee', ${ID("txn_bench", "i")},
              'usd', ${AT("i", "$1::int")}
         FROM ${LINE} JOIN f ON f.amount = ${AMOUNT("i")}
       RETURNING id, source_id, created_at)
     INSERT INTO ${ENTRY_COLUMNS}
     SELECT t.id, e.account, NULL, 'usd', e.amount, t.created_at
       FROM t, LATERAL (SELECT ${INDEX} AS i) n JOIN f ON f.amount = ${AMOUNT("n.i")},
            LATERAL (VALUES ('stripe_fees', -f.fee), ('stripe', f.fee)) e(account, amount)`,
    [day.lines, from, fees.amounts, fees.fees, fees.hashes],
  );
  await client.query(
    `WITH t AS (
       INSERT INTO ${TXN_COLUMNS}
       SELECT ${ID("wd_bench", "j")} || ':hold', 'bench', 'withdrawal_hold', ${ID("wd_bench", "j")},
              'usd', ${AT("j", "$1::int")} FROM generate_series(0::bigint, $1::bigint - 1) j
       RETURNING id, source_id, created_at)
     INSERT INTO ${ENTRY_COLUMNS}
     SELECT t.id, e.account, 'bench_user_' || n.j % $3::int, 'usd', e.amount, t.created_at
       FROM t, LATERAL (SELECT ${INDEX} AS j) n,
            LATERAL (VALUES ('available', -(100 + n.j % 900)), ('held', 100 + n.j % 900)) e(account, amount)`,
    [holdsOf(day), from, day.users],
  );
}

/**
 * The day before, as the previous run mirrored it: as many lines and claims in
 * Coffer's copy of Stripe's lines, and the cursor where that run left it. A live
 * database has such history and statistics about it; without them Postgres
 * plans the claims' foreign-key check on an empty table, as a sequential scan,
 * and keeps that plan for the session (see the bench's report). Outside the
 * window, so the run checks none of it, and its claims name no posting.
 */
export async function seedHistory(client: pg.ClientBase, day: Day): Promise<void> {
  const from = Math.floor(day.from.getTime() / 1000);
  await client.query(
    `WITH l AS (
       INSERT INTO stripe_balance_transactions
         (id, type, reporting_category, source_id, amount_minor, fee_minor, net_minor, currency,
          status, created, available_on, match_group)
       SELECT ${ID("txn_hist", "i")}, 'charge', 'charge', ${ID("ch_hist", "i")}, a.amount, a.fee, a.amount - a.fee,
              'usd', 'available', $2::bigint + (i * ${DAY_S}) / $1::int, $2::bigint + (i * ${DAY_S}) / $1::int,
              ${ID("txn_hist", "i")}
         FROM ${LINE}, LATERAL (SELECT ${AMOUNT("i")} AS amount, ${AMOUNT("i")} * 29 / 1000 + 30 AS fee) a
       RETURNING id, right(id, ${ID_DIGITS}) AS i)
     INSERT INTO stripe_balance_transaction_claims (balance_transaction_id, ledger_key)
     SELECT l.id, k.key FROM l, LATERAL (VALUES ('pi_hist' || l.i || ':captured'), (l.id || ':fee')) k(key)`,
    [day.lines, from - DAY_S],
  );
  await client.query(`INSERT INTO reconciliation_cursors (name, created) VALUES ($1, $2)`, [
    BALANCE_CURSOR,
    from,
  ]);
}

/** Planner statistics, as autovacuum keeps them on a live database (it is off on some test machines). */
export async function analyze(client: pg.ClientBase): Promise<void> {
  await client.query("ANALYZE");
}

/** The books' view of what Stripe holds, to check the seed before timing anything. */
export async function ledgerStripePosition(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ position: string }>(
    `SELECT coalesce(-sum(amount_minor), 0)::text AS position FROM wallet_ledger WHERE account = 'stripe'`,
  );
  return Number(rows[0]?.position ?? 0);
}
