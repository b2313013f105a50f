import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupCommit } from "../src/db/group-commit.js";
import { getBalances } from "../src/db/stores/balances.js";
import { checkInvariants } from "../src/db/stores/ledger-checks.js";
import { postPosting } from "../src/db/stores/ledger.js";
import { ensureUser } from "../src/db/stores/users.js";
import {
  DomainError,
  paymentCaptured,
  processingFee,
  touchedUserBalances,
  toEntries,
  withdrawalHold,
  type Posting,
} from "../src/ledger/index.js";
import type { Currency } from "../src/money/currencies.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { rng } from "./support/stripe-client.js";

/**
 * Random rounds of postings submitted at once through one group commit, so they share
 * transactions, with refusals mixed in: holds beyond the balance (insufficient funds), a key
 * posted before with other amounts (idempotency conflict), an invalid posting. Each job must get
 * its own outcome, as if it had committed alone; a refused one writes nothing and its
 * neighbours commit. A round has at most one posting per wallet, so no outcome depends on the
 * order jobs run in inside a batch.
 */
let tdb: TestDb;
const USERS = ["g1", "g2", "g3", "g4", "g5", "g6"];
const CURRENCIES = ["usd", "jpy"] as Currency[];
beforeAll(async () => {
  tdb = await createTestDb();
  for (const u of USERS) await ensureUser(tdb.db, u);
});
afterAll(async () => tdb?.drop());

const mk = (u: string, c: string) => `${u}|${c}`;

describe("group commit under random postings with refusals", () => {
  it.each([1, 2])("gives every job its own outcome and keeps every invariant (seed %i)", async (seed) => {
    const rand = rng(seed * 104_729);
    // What the worker's metrics are fed (coffer_group_commit_*): each committed batch's size, each fallback.
    const batches: number[] = [];
    let fallbacks = 0;
    const gc = new GroupCommit(tdb.db, {
      windowMs: 20,
      maxBatch: 6,
      log: pino({ level: "silent" }),
      observe: { committed: (jobs) => batches.push(jobs), fellBack: () => void fallbacks++ },
    });
    const model = new Map<string, number>(); // available per wallet
    const posted = new Map<string, Posting>();
    for (const b of await tdb.db("user_wallet_balances"))
      model.set(mk(b.user_id, b.currency), b.available_minor);
    const counts = async () =>
      Number((await tdb.db("wallet_ledger_transactions").count({ n: "*" }).first())?.n);
    let refusals = 0;

    for (let round = 0; round < 25; round++) {
      const wallets = USERS.flatMap((u) => CURRENCIES.map((c) => [u, c] as const)).filter(() => rand() < 0.6);
      const plan: Array<{ p: Posting; expected: string }> = [];
      for (const [user, currency] of wallets) {
        const have = model.get(mk(user, currency)) ?? 0;
        const roll = rand();
        const amountMinor = 1 + Math.floor(rand() * 3_000);
        let p: Posting;
        let expected = "applied";
        if (roll < 0.45) {
          p = paymentCaptured(`pi_${seed}_${round}_${user}_${currency}`, user, { amountMinor, currency });
        } else if (roll < 0.75) {
          p = withdrawalHold(`wd_${seed}_${round}_${user}_${currency}`, user, { amountMinor, currency });
          if (amountMinor > have) expected = "insufficient_funds";
        } else if (roll < 0.9 && posted.size > 0) {
          const prior = [...posted.values()][Math.floor(rand() * posted.size)]!;
          const again = rand() < 0.5;
          p = again
            ? prior
            : {
                ...prior,
                transfers: prior.transfers.map((t) => ({
                  ...t,
                  money: { ...t.money, amountMinor: t.money.amountMinor + 1 },
                })),
              };
          expected = again ? "replayed" : "ledger_idempotency_conflict";
          // A replay or conflict touches the prior posting's wallet: keep one posting per wallet.
          if (plan.some((x) => sameWallet(x.p, p))) continue;
        } else {
          p = { ...paymentCaptured(`pi_bad_${seed}_${round}_${user}`, user, { amountMinor: 0, currency }) };
          expected = "ledger_invalid_posting";
        }
        if (plan.some((x) => sameWallet(x.p, p))) continue;
        plan.push({ p, expected });
      }
      plan.push({
        p: processingFee(`txn_${seed}_${round}`, { amountMinor: 30, currency: "usd" as Currency }),
        expected: "applied",
      });

      const before = await counts();
      const outcomes = await Promise.all(
        plan.map(({ p }) =>
          gc
            .run({ balances: walletsOf(p) }, (trx) => postPosting(trx, p))
            .then(
              (r) => (r.applied ? "applied" : "replayed"),
              (err: unknown) => {
                if (!(err instanceof DomainError)) throw err;
                return err.code;
              },
            ),
        ),
      );
      expect(outcomes).toEqual(plan.map((x) => x.expected));
      const applied = plan.filter((x) => x.expected === "applied");
      refusals += plan.length - applied.length;
      expect(await counts()).toBe(before + applied.length); // the refused wrote nothing
      for (const { p } of applied) {
        posted.set(p.key, p);
        for (const t of p.transfers)
          for (const [acct, sign] of [
            [t.from, -1],
            [t.to, 1],
          ] as const)
            if (acct.type === "user" && acct.bucket === "available") {
              const k = mk(acct.userId, t.money.currency);
              model.set(k, (model.get(k) ?? 0) + sign * t.money.amountMinor);
            }
      }
      expect((await checkInvariants(tdb.db)).violations).toEqual([]);
      for (const u of USERS)
        for (const b of await getBalances(tdb.db, u))
          expect({ w: mk(u, b.currency), available: b.available_minor }).toEqual({
            w: mk(u, b.currency),
            available: model.get(mk(u, b.currency)) ?? 0,
          });
    }
    await gc.close();
    // The refusals really shared batches with others, and those batches were run again one by one.
    expect(refusals).toBeGreaterThan(10);
    expect(fallbacks).toBeGreaterThan(0);
    expect(batches.reduce((a, b) => a + b, 0)).toBeGreaterThan(batches.length);
    expect(Math.max(...batches)).toBeLessThanOrEqual(6);
  });
});

/** The wallets a posting locks (an invalid one locks none: it is refused before the database). */
function walletsOf(p: Posting): Array<{ userId: string; currency: string }> {
  try {
    return touchedUserBalances(toEntries(p));
  } catch {
    return [];
  }
}

function sameWallet(a: Posting, b: Posting): boolean {
  const key = (p: Posting) =>
    p.transfers.flatMap((t) =>
      [t.from, t.to].flatMap((x) => (x.type === "user" ? [mk(x.userId, t.money.currency)] : [])),
    );
  return key(a).some((k) => key(b).includes(k));
}
