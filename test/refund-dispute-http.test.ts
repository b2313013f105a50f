import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wallet } from "./support/api.js";
import {
  LIFECYCLES,
  playRun,
  referenceSignature,
  rng,
  signature,
  withRepeats,
  type Run,
} from "./support/lifecycles.js";
import { deliverAll, expectInvariants, openEventCount } from "./support/seed.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * The same convergence over HTTP with real worker processes: 20 runs of every
 * lifecycle, each delivered in its own seeded order with repeats, all
 * interleaved and concurrent, on separate wallets, in one bring-up.
 */
const RUNS_PER_LIFECYCLE = 20;
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 2 });
  sys.standin.setWebhook(undefined);
});
afterAll(async () => sys?.stop());

describe("refund and dispute lifecycles over HTTP, in seeded orders", () => {
  it("every run ends as in-order delivery would", { timeout: 240_000 }, async () => {
    // In-order reference per lifecycle, applied at the processor level.
    const expected = new Map<string, string[]>();
    for (const [i, lc] of LIFECYCLES.entries()) {
      expected.set(lc.name, await referenceSignature(sys, lc, `http-ref-${i}`));
    }

    const runs: Run[] = [];
    const specs = LIFECYCLES.flatMap((lc, i) =>
      Array.from({ length: RUNS_PER_LIFECYCLE }, (_, n) => ({ lc, user: `http-${i}-${n}` })),
    );
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < specs.length) {
          const s = specs[next++]!;
          runs.push(await playRun(sys.url, sys.standin, s.lc, s.user));
        }
      }),
    );
    const rand = rng(42);
    const deliveries = runs.flatMap((r) =>
      withRepeats(
        [...r.events].sort(() => rand() - 0.5),
        rand,
      ),
    );
    deliveries.sort(() => rand() - 0.5); // interleave the runs too
    await deliverAll(sys, deliveries as unknown as Array<Record<string, unknown>>, 24);
    await eventually(async () => (await openEventCount(sys)) === 0, {
      timeoutMs: 180_000,
      what: "all events processed",
    });

    const failed = await sys.tdb
      .db("stripe_webhook_events")
      .where({ status: "failed" })
      .select("id", "type", "last_error");
    expect(failed).toEqual([]);
    const wrong: string[] = [];
    for (const r of runs) {
      const got = await signature(sys.tdb.db, r);
      const available = (await wallet(sys.url, r.user)).available;
      if (
        JSON.stringify(got) !== JSON.stringify(expected.get(r.lifecycle.name)) ||
        available !== r.lifecycle.expectAvailable
      ) {
        wrong.push(
          `${r.lifecycle.name} (${r.user}): available ${available}, postings ${JSON.stringify(got)}`,
        );
      }
    }
    expect(wrong).toEqual([]);
    await expectInvariants(sys);
  });
});
