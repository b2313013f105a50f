import { describe, expect, it } from "vitest";
import { faultSchedule } from "../scripts/soak/faults.js";
import { Model } from "../scripts/soak/model.js";
import { stream } from "../scripts/soak/random.js";
import { KINDS, planWorkload } from "../scripts/soak/workload.js";

/**
 * The chaos soak's promises that need no running system: a seed replays the same plan and fault
 * schedule, and the soak's own model does the money as SPEC says, independently of src/.
 */
describe("chaos soak: replay and model", () => {
  it("plans the same stories and faults for the same seed, and others for another", () => {
    const a = planWorkload(7, 3000, 240_000);
    expect(planWorkload(7, 3000, 240_000)).toEqual(a);
    expect(faultSchedule(7, 240_000, 2)).toEqual(faultSchedule(7, 240_000, 2));
    expect(planWorkload(8, 3000, 240_000).scenarios).not.toEqual(a.scenarios);
    expect(faultSchedule(8, 240_000, 2)).not.toEqual(faultSchedule(7, 240_000, 2));
  });

  it("covers every story kind at the acceptance size, within the amounts Stripe accepts", () => {
    const plan = planWorkload(1, 3000, 240_000);
    expect(plan.estimatedEvents).toBeGreaterThanOrEqual(3000);
    expect(new Set(plan.scenarios.map((s) => s.kind))).toEqual(new Set(Object.keys(KINDS)));
    for (const s of plan.scenarios) {
      expect(Number.isSafeInteger(s.amountMinor) && s.amountMinor >= 100).toBe(true);
      expect(s.partsMinor.every((p) => p > 0 && p <= s.amountMinor)).toBe(true);
      if (s.kind === "refunds_partial")
        expect(s.partsMinor[0]! + s.partsMinor[1]!).toBeLessThanOrEqual(s.amountMinor);
      if (s.kind.startsWith("withdrawal_")) expect(s.currency).toBe("usd");
    }
  });

  it("schedules the storm the issue asks for: a worker kill every 10–30 s, Redis twice, Postgres and web once", () => {
    const windowMs = 240_000;
    const { faults, workerKills } = faultSchedule(3, windowMs, 2);
    const count = (k: string) => faults.filter((f) => f.kind === k).length;
    expect([count("redis_restart"), count("postgres_crash"), count("web_restart")]).toEqual([2, 1, 1]);
    expect(faults.every((f) => f.atMs > 0 && f.atMs < windowMs)).toBe(true);
    expect(workerKills.every((k) => k.gapMs >= 10_000 && k.gapMs <= 30_000)).toBe(true);
    // Both workers are killed, and a storm of many windows still has kills left to play.
    expect(new Set(workerKills.slice(0, 20).map((k) => k.target))).toEqual(new Set([0, 1]));
    expect(workerKills.reduce((s, k) => s + k.gapMs, 0)).toBeGreaterThan(windowMs * 20);
  });

  it("keeps named random streams independent of one another", () => {
    const first = stream(1, "workload");
    const again = stream(1, "workload");
    const other = stream(1, "faults");
    const xs = [first.next(), first.next()];
    expect([again.next(), again.next()]).toEqual(xs);
    expect(other.next()).not.toBe(xs[0]);
  });

  it("models the withdrawal fee in BigInt with a ceiling, and each end of a withdrawal", () => {
    const m = new Model({ default: { fixed_minor: 25, bps: 100, min_minor: 500 } });
    expect(m.withdrawalFee("usd", 1_000)).toBe(35);
    expect(m.withdrawalFee("usd", 1_001)).toBe(36); // ⌈10.01⌉
    expect(m.withdrawalFee("usd", 2 ** 53 - 1)).toBe(25 + Math.ceil((2 ** 53 - 1) / 100));
    m.captured("u", "usd", 5_000);
    m.withdrawalRequested("wd_a", "u", "usd", 1_000);
    m.withdrawalRequested("wd_b", "u", "usd", 2_000);
    expect(m.wallets()).toEqual([{ user: "u", currency: "usd", available: 2_000, held: 3_000 }]);
    m.withdrawalEnded("wd_a", "paid");
    m.withdrawalEnded("wd_b", "reversed");
    expect(m.wallets()).toEqual([{ user: "u", currency: "usd", available: 4_000, held: 0 }]);
    expect(() => m.withdrawalEnded("wd_a", "failed")).toThrow(/already ended/);
    expect(m.withdrawals.get("wd_a")?.netMinor).toBe(965);
  });

  it("models refunds and disputes as a user's wallet sees them", () => {
    const m = new Model({ default: { fixed_minor: 0, bps: 0, min_minor: 0 } });
    m.captured("u", "jpy", 1_000);
    m.refunded("u", "jpy", 300); // a refund that stays
    m.refunded("u", "jpy", 200);
    m.refundFailed("u", "jpy", 200); // …and one that failed
    m.disputeOpened("u", "jpy", 1_000);
    expect(m.wallets()[0]?.available).toBe(-300); // a forced debit may go negative
    m.disputeWon("u", "jpy", 1_000);
    expect(m.wallets()[0]?.available).toBe(700);
  });
});
