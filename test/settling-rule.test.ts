import { describe, expect, it } from "vitest";
import { settlesAt, settlingMinor, withdrawableMinor, type UnsettledCredit } from "../src/ledger/settling.js";
import { rng } from "./support/stripe-client.js";

/** The pure rule behind settling_minor (src/ledger/settling.ts). */
const NOW = 1_800_000_000;

describe("settlingMinor", () => {
  it("counts every credit Stripe has not been seen to make available, whatever its date says", () => {
    const credits = [
      { amountMinor: 500, availableOn: NOW + 10 },
      { amountMinor: 200, availableOn: null },
      // Its date has come, but Stripe has not been asked again: it may have been pushed back.
      { amountMinor: 300, availableOn: NOW - 10 },
    ];
    expect(settlingMinor(2_000, credits)).toBe(1_000);
    expect(withdrawableMinor(2_000, credits)).toBe(1_000);
  });

  it("never exceeds what is available, and is 0 when available is negative", () => {
    const credits = [{ amountMinor: 500, availableOn: NOW + 10 }];
    expect(settlingMinor(300, credits)).toBe(300);
    expect(settlingMinor(-100, credits)).toBe(0);
    expect(withdrawableMinor(300, credits)).toBe(0);
    expect(withdrawableMinor(-100, credits)).toBe(-100);
  });
});

describe("forced debits", () => {
  it("a refund against a wallet of settling funds only reduces settling first (the clamp)", () => {
    // A 500 top-up, still pending at Stripe, refunded 300: available 200, all of it settling.
    const credits = [{ amountMinor: 500, availableOn: NOW + 86_400 }];
    expect(settlingMinor(500, credits)).toBe(500);
    expect(settlingMinor(500 - 300, credits)).toBe(200);
    expect(withdrawableMinor(200, credits)).toBe(0);
  });

  it("a refund of a settling top-up in a mixed wallet comes off the settled funds, as at Stripe", () => {
    // Settled 100, settling 50, then 30 of the settling top-up refunded. Stripe takes the refund
    // from its available balance (100 → 70) while the 50 stays pending in full: charging the refund
    // to the settling payment would say withdrawable 100, 30 more than Stripe has.
    const credits = [{ amountMinor: 50, availableOn: NOW + 86_400 }];
    expect(settlingMinor(120, credits)).toBe(50);
    expect(withdrawableMinor(120, credits)).toBe(70);
  });

  it("a dispute lost on a settled payment leaves settling alone until available falls below it", () => {
    const credits = [{ amountMinor: 50, availableOn: NOW + 86_400 }];
    expect(settlingMinor(150 - 80, credits)).toBe(50);
    expect(withdrawableMinor(150 - 80, credits)).toBe(20);
    expect(settlingMinor(150 - 120, credits)).toBe(30);
    expect(withdrawableMinor(150 - 120, credits)).toBe(0);
  });
});

describe("settlesAt, the forecast from Stripe's dates", () => {
  const credits = [
    { amountMinor: 500, availableOn: NOW + 100 },
    { amountMinor: 400, availableOn: NOW + 50 },
    { amountMinor: 200, availableOn: NOW - 5 }, // due, not yet confirmed
    { amountMinor: 100, availableOn: null },
  ];
  // available 1,700: 500 settled; 700 by NOW − 5 (a date already come), 1,100 by NOW + 50,
  // 1,600 by NOW + 100, 1,700 never known.
  it.each([
    [501, NOW - 5],
    [700, NOW - 5],
    [701, NOW + 50],
    [1_100, NOW + 50],
    [1_101, NOW + 100],
    [1_600, NOW + 100],
    [1_601, null],
    [1_701, null],
  ])("%i is withdrawable by %s", (amount, at) => {
    expect(settlesAt(1_700, credits, amount)).toBe(at);
  });
});

/**
 * One wallet's money as Stripe holds it: each charge pending in full until its available_on (which
 * Stripe may push back while it is pending), every refund, dispute and transfer taken from the
 * available balance. Coffer sees a line only when a stream pass or a recheck reads it. What Coffer
 * lets the user withdraw must never exceed this wallet's share of Stripe's available balance.
 */
interface Charge {
  amountMinor: number;
  /** Stripe's date, now. */
  availableOn: number;
  /** Refunds and lost disputes of this payment (only the old rule read them). */
  forcedMinor: number;
  /** The line as Coffer last read it; null until a read. */
  seen: { availableOn: number; status: "pending" | "available" } | null;
}

const isAvailable = (c: Charge, at: number) => c.availableOn <= at;

function stripeAvailable(charges: readonly Charge[], debitedMinor: number, at: number): number {
  let sum = -debitedMinor;
  for (const c of charges) if (isAvailable(c, at)) sum += c.amountMinor;
  return sum;
}

/** What the store hands the rule: every credit whose line Coffer has not read as available. */
const unsettled = (charges: readonly Charge[]): UnsettledCredit[] =>
  charges
    .filter((c) => c.seen?.status !== "available")
    .map((c) => ({ amountMinor: c.amountMinor, availableOn: c.seen?.availableOn ?? null }));

/** A settling rule under test: what is settling of `available` at `at`, given Coffer's reads. */
type Rule = (available: number, charges: readonly Charge[], at: number) => number;
const ours: Rule = (available, charges) => settlingMinor(available, unsettled(charges));

/** Plays 500 seeded histories of 60 steps; returns the first broken property of each. */
function violations(rule: Rule): string[] {
  const failures: string[] = [];
  for (let seed = 1; seed <= 500; seed++) {
    const rand = rng(seed);
    const int = (n: number) => Math.floor(rand() * n);
    const charges: Charge[] = [];
    let debited = 0; // refunds, lost disputes and withdrawals: all out of Stripe's available
    let available = 0; // Coffer's available_minor
    let at = NOW;
    const log: string[] = [];
    const read = (c: Charge) =>
      (c.seen = { availableOn: c.availableOn, status: isAvailable(c, at) ? "available" : "pending" });
    for (let step = 0; step < 60; step++) {
      const op = int(8);
      if (op === 0) {
        const amountMinor = 1 + int(1_000);
        charges.push({ amountMinor, availableOn: at + int(200), forcedMinor: 0, seen: null });
        available += amountMinor;
        log.push(`credit ${amountMinor}`);
      } else if (op === 1 && charges.length > 0) {
        // A refund or a lost dispute of some payment, up to its amount: Stripe may push the
        // wallet below zero (the user owes it), which SPEC allows after a forced debit.
        const paid = charges[int(charges.length)]!;
        const debit = 1 + int(paid.amountMinor);
        paid.forcedMinor += debit;
        debited += debit;
        available -= debit;
        log.push(`forced debit ${debit}`);
      } else if (op === 2) {
        const can = available - rule(available, charges, at);
        if (can > 0) {
          const w = 1 + int(can);
          debited += w;
          available -= w;
          log.push(`withdraw ${w}`);
        }
      } else if (op === 3) {
        // The follow pass reads only new lines; a run or the first read sees them all.
        for (const c of charges) if (c.seen === null || int(4) === 0) read(c);
        log.push("stream");
      } else if (op === 4) {
        // The recheck: pending lines whose recorded date has come.
        for (const c of charges) if (c.seen?.status === "pending" && c.seen.availableOn <= at) read(c);
        log.push("recheck");
      } else if (op === 5) {
        // Stripe pushes a pending line's date back (a reserve), telling no one.
        const pending = charges.filter((c) => !isAvailable(c, at));
        const c = pending[int(pending.length)];
        if (c) c.availableOn += 1 + int(300);
        log.push("pushed back");
      } else {
        at += int(60);
        log.push(`tick → ${at - NOW}`);
      }
      const settling = rule(available, charges, at);
      const withdrawable = available - settling;
      const atStripe = stripeAvailable(charges, debited, at);
      // Not needlessly cautious either: once Coffer has read every line as it is now, a wallet
      // not in debt may withdraw exactly what Stripe has available of its money.
      const current = charges.every(
        (c) =>
          c.seen?.availableOn === c.availableOn &&
          c.seen.status === (isAvailable(c, at) ? "available" : "pending"),
      );
      const exact = !current || available < 0 || withdrawable === Math.max(atStripe, 0);
      if (
        settling < 0 ||
        settling > Math.max(available, 0) ||
        withdrawable > Math.max(atStripe, 0) ||
        !exact
      ) {
        failures.push(
          `seed ${seed}: settling ${settling}, withdrawable ${withdrawable}, Stripe available ${atStripe} after ${log.join(", ")}`,
        );
        break;
      }
    }
  }
  return failures;
}

describe("against a model of Stripe's balance (seeded, 500 histories of 60 steps)", () => {
  it("settling stays in [0, available] and withdrawable never exceeds Stripe's available", () => {
    expect(violations(ours)).toEqual([]);
  });

  it("catches a rule that trusts a date once it has come (Stripe may have pushed it back)", () => {
    const byDate: Rule = (available, charges, at) =>
      settlingMinor(
        available,
        unsettled(charges).filter((c) => c.availableOn === null || c.availableOn > at),
      );
    expect(violations(byDate).length).toBeGreaterThan(0);
  });

  it("catches the old rule, which charged a refund or dispute to its own payment's settling funds", () => {
    const byPayment: Rule = (available, charges) =>
      settlingMinor(
        available,
        charges
          .filter((c) => c.seen?.status !== "available")
          .map((c) => ({ amountMinor: Math.max(0, c.amountMinor - c.forcedMinor), availableOn: null })),
      );
    expect(violations(byPayment).length).toBeGreaterThan(0);
  });
});
