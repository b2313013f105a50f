import { markUnlisted } from "../db/stores/plans.js";
import { price as readPrice } from "../stripe/billing-snapshots.js";
import type { FlowDeps } from "./deps.js";
import { requestSecond } from "./mirror-fetch.js";
import { syncPrice } from "./plans.js";

/** Stripe's largest page. */
const PAGE = 100;

/**
 * The plans sync (PLANS_SYNC_CRON, and once as each worker starts): pages through every recurring
 * price with its product expanded in the same call, through the shared Stripe budget like every
 * call, and mirrors each as of the second its page was asked for, so a webhook lost in between
 * is made good. A price Stripe no longer lists was deleted: once the walk is complete, rows it
 * did not meet and that are older than the walk become inactive. A rate limit thrown from here
 * delays the job; the next run starts over, which is harmless.
 */
export async function syncPlans(
  deps: FlowDeps,
): Promise<{ prices: number; updated: number; unlisted: string[] }> {
  const startedS = requestSecond();
  const listed: string[] = [];
  let updated = 0;
  let startingAfter: string | undefined;
  for (;;) {
    const asOf = requestSecond();
    const page = await deps.stripe.prices.list({
      limit: PAGE,
      type: "recurring",
      expand: ["data.product"],
      ...(startingAfter !== undefined && { starting_after: startingAfter }),
    });
    for (const p of page.data) {
      const view = readPrice(p);
      listed.push(view.id);
      if ((await syncPrice(deps, { view, deleted: false, asOf })) === "plan_updated") updated++;
    }
    if (!page.has_more || page.data.length === 0) break;
    startingAfter = page.data[page.data.length - 1]!.id;
  }
  const unlisted = await markUnlisted(deps.db, listed, startedS);
  deps.log.info({ prices: listed.length, updated, unlisted: unlisted.length }, "plans synced");
  return { prices: listed.length, updated, unlisted };
}
