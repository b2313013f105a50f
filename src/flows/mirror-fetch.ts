import { setTimeout as sleep } from "node:timers/promises";

/**
 * A fetch that settles a tie (src/ledger/subscriptions.ts): it starts only once the clock has
 * left the tied second, so the state Stripe answers with is strictly newer than both snapshots
 * of that second, and its as-of is the second it started in. At most a second's wait.
 */
export async function fetchAfter<T>(
  tieS: number,
  fetch: () => Promise<T>,
): Promise<{ value: T; asOf: number }> {
  const waitMs = (tieS + 1) * 1000 - Date.now();
  if (waitMs > 0) await sleep(waitMs);
  const asOf = Math.floor(Date.now() / 1000);
  return { value: await fetch(), asOf };
}

/** The second a request to Stripe starts in: the as-of of what it answers. */
export const requestSecond = (): number => Math.floor(Date.now() / 1000);
