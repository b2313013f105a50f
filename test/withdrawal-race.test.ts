import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wallet } from "./support/api.js";
import { startSystem, type System } from "./support/system.js";
import { readyUser, requestWithdrawal, settledAndBalanced } from "./support/withdrawals.js";

/**
 * 100 concurrent withdrawal requests against a balance that covers exactly 10
 * of them: exactly 10 holds, 90 refusals, and no read in between ever shows a
 * negative available balance.
 */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
});
afterAll(async () => sys?.stop());

describe("concurrent withdrawal requests on one wallet", () => {
  it("hold exactly what the balance covers", { timeout: 120_000 }, async () => {
    await readyUser(sys, "racer", 10_000);
    let racing = true;
    const seen: number[] = [];
    const reader = (async () => {
      while (racing) seen.push((await wallet(sys.url, "racer")).available);
    })();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => requestWithdrawal(sys, "racer", 1_000, `race-${i}`)),
    );
    racing = false;
    await reader;

    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(90);
    expect(
      results.filter((r) => r.status === 409).every((r) => r.body.error.code === "insufficient_funds"),
    ).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
    expect(await wallet(sys.url, "racer")).toEqual({ available: 0, pending: 0, held: 10_000 });
    const rows = await sys.tdb.db("withdrawal_requests").where({ user_id: "racer" });
    expect(rows).toHaveLength(10);
    expect(
      rows.every((r) => r.status === "pending_review" && r.fee_minor === 35 && r.net_minor === 965),
    ).toBe(true);
    await settledAndBalanced(sys);
  });
});
