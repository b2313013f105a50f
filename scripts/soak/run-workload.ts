import { sleep } from "./random.js";
import { paymentStory } from "./stories-payments.js";
import { subscriptionStory } from "./stories-subscriptions.js";
import { withdrawalStory } from "./stories-withdrawals.js";
import type { StoryContext } from "./story-context.js";
import { isSubscription, isWithdrawal, type Plan, type Scenario } from "./workload.js";

/**
 * Plays the plan: each story starts at its planned time and runs on its own, so many are in
 * flight at once, waiting on Stripe, on Coffer, or on each other's wallets. At most
 * MAX_IN_FLIGHT run together: on a machine slower than the plan assumed, later stories start
 * late instead of piling up until every request times out (the storm then lasts until the last
 * one has started; see runFaults). A story that throws is recorded with what it was doing; it
 * fails the audit.
 */
export const MAX_IN_FLIGHT = 80;

export interface WorkloadState {
  total: number;
  started: number;
  done: number;
  failed: Array<{ scenario: Scenario; error: string }>;
  finished: Promise<void>;
}

export function runWorkload(ctx: StoryContext, plan: Plan, startedAt: number): WorkloadState {
  const state: WorkloadState = {
    total: plan.scenarios.length,
    started: 0,
    done: 0,
    failed: [],
    finished: Promise.resolve(),
  };
  const waiting: Array<() => void> = [];
  let running = 0;
  // A story that ends hands its slot straight to the next in line, so none is taken twice.
  const slot = async () => {
    if (running < MAX_IN_FLIGHT) running += 1;
    else await new Promise<void>((r) => waiting.push(r));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
  state.finished = Promise.all(
    plan.scenarios.map(async (s) => {
      await sleep(Math.max(0, startedAt + s.startAtMs - Date.now()));
      await slot();
      state.started += 1;
      try {
        const story = isWithdrawal(s.kind)
          ? withdrawalStory
          : isSubscription(s.kind)
            ? subscriptionStory
            : paymentStory;
        await story(ctx, s);
      } catch (err) {
        state.failed.push({ scenario: s, error: (err as Error).message });
      } finally {
        state.done += 1;
        release();
      }
    }),
  ).then(() => undefined);
  return state;
}

/** One line per failed story: enough to find it in the logs and to replay it alone. */
export function describeFailure(f: { scenario: Scenario; error: string }): string {
  const s = f.scenario;
  return `story #${s.index} ${s.kind} (user ${s.user}, ${s.amountMinor} ${s.currency}, start +${(s.startAtMs / 1000).toFixed(1)} s): ${f.error}`;
}
