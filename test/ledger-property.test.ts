import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBalances } from "../src/db/stores/balances.js";
import { checkInvariants } from "../src/db/stores/ledger-checks.js";
import { postPosting } from "../src/db/stores/ledger.js";
import { ensureUser } from "../src/db/stores/users.js";
import { withTransaction } from "../src/db/transaction.js";
import {
  available,
  checkBook,
  DomainError,
  paymentCaptured,
  processingFee,
  refunded,
  STRIPE,
  withdrawalHold,
  withdrawalRelease,
  type BookTransaction,
  type Posting,
} from "../src/ledger/index.js";
import type { Currency } from "../src/money/currencies.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { rng } from "./support/stripe-client.js";

/**
 * Random sequences of postings against the real store, including postings
 * that must be refused. After every step: the SQL invariants hold, the pure
 * checker agrees, balances equal an independent model, and a refused posting
 * changed nothing at all.
 */
let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
  for (const u of USERS) await ensureUser(tdb.db, u);
});
afterAll(async () => tdb?.drop());

const USERS = ["u1", "u2", "u3"];
const CURRENCIES = ["usd", "jpy"] as Currency[];

type Model = Map<string, { available: number; held: number }>;
const mk = (u: string, c: string) => `${u}|${c}`;
// One book for the whole file: each seed continues on what the previous ones left.
const model: Model = new Map();
const posted = new Map<string, Posting>(); // key → first posting, to predict replays and conflicts

/** What a posting would do to the model; mirrors the rules the store must enforce. */
function applyToModel(model: Model, p: Posting): void {
  for (const t of p.transfers) {
    for (const [acct, sign] of [
      [t.from, -1],
      [t.to, 1],
    ] as const) {
      if (acct.type !== "user") continue;
      const k = mk(acct.userId, t.money.currency);
      const b = model.get(k) ?? { available: 0, held: 0 };
      b[acct.bucket] += sign * t.money.amountMinor;
      model.set(k, b);
    }
  }
}

async function counts() {
  const [t, e] = await Promise.all([
    tdb.db("wallet_ledger_transactions").count({ n: "*" }).first(),
    tdb.db("wallet_ledger").count({ n: "*" }).first(),
  ]);
  return { tx: Number(t?.n), entries: Number(e?.n) };
}

describe("ledger under random postings", () => {
  it.each([1, 2, 3])("keeps every invariant (seed %i)", async (seed) => {
    const rand = rng(seed * 7919);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const badAmounts = [0, -5, 1.5, Number.NaN, 2 ** 53];

    for (let step = 0; step < 120; step++) {
      const user = pick(USERS);
      const currency = pick(CURRENCIES);
      const n = Math.floor(rand() * 20); // small key space so keys repeat
      let amount = 1 + Math.floor(rand() * 5_000);
      if (rand() < 0.08) amount = pick(badAmounts);
      const kind = pick([
        "credit",
        "credit",
        "fee",
        "hold",
        "release",
        "refund",
        "mixed",
        "conflict",
      ] as const);
      let p: Posting;
      switch (kind) {
        case "credit":
          p = paymentCaptured(`pi_${seed}_${n}_${currency}`, user, { amountMinor: amount, currency });
          break;
        case "fee":
          p = processingFee(`txn_${seed}_${n}`, { amountMinor: amount, currency });
          break;
        case "hold":
          p = withdrawalHold(`wd_${seed}_${step}`, user, { amountMinor: amount, currency });
          break;
        case "release":
          p = withdrawalRelease(`wd_${seed}_r${step}`, user, { amountMinor: Math.min(amount, 50), currency });
          break;
        case "refund":
          p = refunded(`re_${seed}_${step}`, user, { amountMinor: amount, currency });
          break;
        case "mixed":
          p = {
            ...paymentCaptured(`pi_mixed_${step}`, user, { amountMinor: 100, currency: "usd" as Currency }),
            transfers: [
              { from: STRIPE, to: available(user), money: { amountMinor: 100, currency: "usd" as Currency } },
              { from: STRIPE, to: available(user), money: { amountMinor: 100, currency: "jpy" as Currency } },
            ],
          };
          break;
        case "conflict": {
          const prior = [...posted.values()].find((x) => x.kind === "payment_captured");
          p = prior
            ? {
                ...prior,
                transfers: prior.transfers.map((t) => ({
                  ...t,
                  money: { ...t.money, amountMinor: t.money.amountMinor + 1 },
                })),
              }
            : paymentCaptured(`pi_${seed}_c${step}`, user, { amountMinor: 10, currency });
          break;
        }
      }

      const expected = predict(model, posted, p);
      const before = await counts();
      const beforeModel = structuredClone(model);
      let outcome: string;
      try {
        const r = await withTransaction(tdb.db, (trx) => postPosting(trx, p));
        outcome = r.applied ? "applied" : "replayed";
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        outcome = err.code;
      }
      expect({ step, kind, outcome }).toEqual({ step, kind, outcome: expected });
      if (outcome === "applied") {
        applyToModel(model, p);
        posted.set(p.key, p);
      } else {
        expect(await counts()).toEqual(before); // refused or replayed: nothing written
        expect(model).toEqual(beforeModel);
      }
      await expectBooksMatch(model);
    }
  });
});

/** The outcome the rules demand, computed without the store. */
function predict(model: Model, posted: Map<string, Posting>, p: Posting): string {
  const amounts = p.transfers.map((t) => t.money.amountMinor);
  if (amounts.some((a) => !Number.isSafeInteger(a) || a <= 0)) return "ledger_invalid_posting";
  if (new Set(p.transfers.map((t) => t.money.currency)).size > 1) return "currency_mismatch";
  const prior = posted.get(p.key);
  if (prior)
    return JSON.stringify(prior.transfers) === JSON.stringify(p.transfers)
      ? "replayed"
      : "ledger_idempotency_conflict";
  if (p.userInitiated) {
    const t = p.transfers[0]!;
    if (t.from.type === "user") {
      const have = model.get(mk(t.from.userId, t.money.currency))?.available ?? 0;
      if (have < t.money.amountMinor) return "insufficient_funds";
    }
  }
  return "applied";
}

async function expectBooksMatch(model: Model): Promise<void> {
  const report = await checkInvariants(tdb.db);
  expect(report.violations).toEqual([]);
  for (const u of USERS) {
    for (const b of await getBalances(tdb.db, u)) {
      const m = model.get(mk(u, b.currency)) ?? { available: 0, held: 0 };
      expect({ u, c: b.currency, available: b.available_minor, held: b.held_minor }).toEqual({
        u,
        c: b.currency,
        ...m,
      });
    }
  }
  // The pure checker must agree with SQL on the same book.
  const entries = await tdb
    .db("wallet_ledger as e")
    .join("wallet_ledger_transactions as t", "t.id", "e.transaction_id")
    .select("t.id", "t.idempotency_key", "e.user_id", "e.account", "e.currency", "e.amount_minor");
  type Tx = BookTransaction & { entries: Array<BookTransaction["entries"][number]> };
  const txs = new Map<string, Tx>();
  for (const e of entries) {
    const tx: Tx = txs.get(String(e.id)) ?? { id: String(e.id), key: e.idempotency_key, entries: [] };
    tx.entries.push({
      userId: e.user_id,
      account: e.account,
      currency: e.currency,
      amountMinor: e.amount_minor,
    });
    txs.set(tx.id, tx);
  }
  const balances = (await tdb.db("user_wallet_balances")).map((b) => ({
    userId: b.user_id,
    currency: b.currency,
    availableMinor: b.available_minor,
    heldMinor: b.held_minor,
  }));
  expect(checkBook([...txs.values()], balances).violations).toEqual([]);
}
