import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCursor, readPass } from "../src/db/stores/balance-transactions.js";
import type { FlowDeps } from "../src/flows/deps.js";
import { followBalanceStream } from "../src/flows/reconcile-stream.js";
import { processorDeps } from "./support/lifecycles.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * A pass over Stripe's balance transactions cut short after a saved page (what a worker killed
 * there leaves: the page's transaction committed, nothing after it) goes on from that page, with
 * the cut it had, instead of reading every page again; one that asks for another bound does not.
 */
let sys: System;
let deps: FlowDeps;
beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
  deps = processorDeps(sys);
}, 60_000);
afterAll(async () => sys?.stop());

const pageReads = () => sys.standin.requests().filter((r) => r.path === "/v1/balance_transactions").length;
const mirrored = async () =>
  (await sys.tdb.db("stripe_balance_transactions").orderBy("id").pluck("id")) as string[];
const addLines = (n: number) =>
  Array.from(
    { length: n },
    () => sys.standin.addBalanceTransaction({ amount: -1, currency: "usd", type: "adjustment" }).id,
  );
/**
 * A pass that stops as a crash would, right after its `pages`-th page is saved; it resolves once
 * the next page, which the pass asks for before saving one, has been answered too.
 */
async function cutShortAfter(pages: number, o: { from?: number; overlapS?: number }): Promise<void> {
  const start = pageReads();
  const pass = followBalanceStream(deps, {
    ...o,
    onPage: (p) => {
      if (p.page === pages) throw new Error("cut short");
    },
  });
  await expect(pass).rejects.toThrow("cut short");
  await eventually(async () => pageReads() - start === pages + 1, { what: "the prefetched page" });
}

describe("a balance-stream pass cut short", () => {
  it("goes on after its last saved page, with its cut and start, and reads nothing twice", async () => {
    const ids = addLines(350);
    await cutShortAfter(2, { from: 0 });
    expect((await mirrored()).length).toBe(200);
    const kept = await readPass(sys.tdb.db);
    expect(kept).toMatchObject({ since: 0 });
    // Newest first: the second page ends at the 200th newest line.
    expect(kept!.after).toBe(ids[ids.length - 200]);
    expect(await readCursor(sys.tdb.db)).toBe(0);

    const before = pageReads();
    const resumed = await followBalanceStream(deps, { from: 0 });
    expect(resumed.resumedAfter).toBe(kept!.after);
    // Pages 3 and 4 (100 and 50 lines), not all four again.
    expect(pageReads() - before).toBe(2);
    expect(resumed).toMatchObject({ page: 2, lines: 150 });
    expect(await mirrored()).toEqual([...ids].sort());
    expect(resumed.startedAt).toEqual(kept!.startedAt);
    // The cut is the first page's: the newest second, and every line of it the pass read.
    const { rows } = await sys.tdb.db.raw<{ rows: Array<{ id: string; created: string }> }>(
      `SELECT id, created FROM stripe_balance_transactions
        WHERE created = (SELECT max(created) FROM stripe_balance_transactions) ORDER BY id`,
    );
    expect(resumed.cut.createdS).toBe(Number(rows[0]!.created));
    expect([...resumed.cut.listed].sort()).toEqual(rows.map((r) => r.id));
    // Over: the cursor moved to the pass's newest line, and nothing is kept to resume.
    expect(await readCursor(sys.tdb.db)).toBe(resumed.cut.createdS);
    expect(await readPass(sys.tdb.db)).toBeNull();
  });

  it("is read afresh by a pass with another lower bound, which leaves its own state", async () => {
    const more = addLines(150);
    await cutShortAfter(1, { from: 0 });
    expect(await readPass(sys.tdb.db)).toMatchObject({ since: 0 });

    // From the cursor (no overlap): another bound than the pass cut short, so no resume.
    const before = pageReads();
    const fresh = await followBalanceStream(deps, { overlapS: 0 });
    expect(fresh.resumedAfter).toBeNull();
    expect(pageReads() - before).toBe(fresh.page);
    expect(fresh.lines).toBeGreaterThanOrEqual(150);
    const all = await mirrored();
    expect(more.every((id) => all.includes(id))).toBe(true);
    expect(await readPass(sys.tdb.db)).toBeNull();
  });
});
