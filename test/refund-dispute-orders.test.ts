import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowDeps } from "../src/flows/deps.js";
import type { StripeEvent } from "../src/standin/index.js";
import { wallet } from "./support/api.js";
import {
  applyAtProcessor,
  LIFECYCLES,
  permutations,
  playRun,
  processorDeps,
  rng,
  signature,
  withRepeats,
  type Lifecycle,
} from "./support/lifecycles.js";
import { expectInvariants } from "./support/seed.js";
import { startSystem, type System } from "./support/system.js";

/**
 * Every order of a lifecycle's events, each event delivered 1–3 times, applied
 * at the processor level against real Postgres and the stand-in, must end in
 * the same postings and balance as in-order delivery. Lifecycles with up to 5
 * distinct events are tried in every permutation; longer ones in 120 seeded
 * permutations.
 */
const MAX_ORDERS = 120;
let sys: System;
let deps: FlowDeps;
beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
  sys.standin.setWebhook(undefined);
  deps = processorDeps(sys);
});
afterAll(async () => sys?.stop());

const apply = (events: StripeEvent[]) => applyAtProcessor(deps, events);

async function inParallel<T>(
  items: T[],
  width: number,
  fn: (x: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

describe.each(LIFECYCLES.map((lc, i) => [lc.name, lc, i] as const))(
  "%s, in any order",
  (_name, lc: Lifecycle, index) => {
    it("converges on the in-order result", { timeout: 180_000 }, async () => {
      const baseline = await playRun(sys.url, sys.standin, lc, `lc${index}-inorder`);
      await apply(baseline.events);
      const expected = await signature(sys.tdb.db, baseline);
      expect((await wallet(sys.url, baseline.user)).available).toBe(lc.expectAvailable);
      expect(expected.length).toBeGreaterThan(0);

      const rand = rng(1_000 + index);
      let orders = permutations(baseline.events.map((_, i) => i));
      if (orders.length > MAX_ORDERS) orders = orders.sort(() => rand() - 0.5).slice(0, MAX_ORDERS);
      const failures: string[] = [];
      await inParallel(orders, 8, async (order, n) => {
        const run = await playRun(sys.url, sys.standin, lc, `lc${index}-p${n}`);
        expect(run.events.map((e) => e.type)).toEqual(baseline.events.map((e) => e.type));
        const sequence = withRepeats(
          order.map((i) => run.events[i]!),
          rand,
        );
        await apply(sequence);
        const got = await signature(sys.tdb.db, run);
        const available = (await wallet(sys.url, run.user)).available;
        if (JSON.stringify(got) !== JSON.stringify(expected) || available !== lc.expectAvailable) {
          failures.push(
            `order ${sequence.map((e) => e.type).join(" → ")}: available ${available}, postings ${JSON.stringify(got)}`,
          );
        }
      });
      expect(failures).toEqual([]);
      await expectInvariants(sys);
    });
  },
);
