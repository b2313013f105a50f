import type Stripe from "stripe";
import { nowSeconds } from "../ids.js";
import type { Store } from "../state.js";

/**
 * Billing time, per customer. At Stripe a test clock holds a group of customers at a frozen time
 * that only moves when advanced; here every customer has its own such clock, which starts at
 * the real time and never runs behind it. So a test advances one customer's subscriptions through
 * trials and renewals without touching another test's customers, and Coffer needs no
 * `test_clock` parameter on the customers it creates. Events keep the real time as `created`, as
 * Stripe's do: only the billing objects' own timestamps (periods, trial ends, invoices) follow the clock.
 */
const offsets = new WeakMap<Store, Map<string, number>>();

const offsetsOf = (store: Store) => offsets.get(store) ?? offsets.set(store, new Map()).get(store)!;

/** The customer's billing time, in seconds since the epoch. */
export function billingNow(store: Store, customerId: string): number {
  return nowSeconds() + (offsetsOf(store).get(customerId) ?? 0);
}

/** Moves the customer's clock to `to` (never backwards). */
export function setBillingNow(store: Store, customerId: string, to: number): void {
  const offset = to - nowSeconds();
  if (offset > (offsetsOf(store).get(customerId) ?? 0)) offsetsOf(store).set(customerId, offset);
}

type Interval = Stripe.Price.Recurring.Interval;

/**
 * The end of `periods` intervals after `anchor`, computed from the anchor each time so months do
 * not drift: a subscription started on the 31st renews on the last day of shorter months.
 */
export function addIntervals(anchor: number, interval: Interval, count: number, periods: number): number {
  const n = count * periods;
  if (interval === "day") return anchor + n * 86_400;
  if (interval === "week") return anchor + n * 7 * 86_400;
  const d = new Date(anchor * 1000);
  const months = interval === "month" ? n : 12 * n;
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  target.setUTCHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
  return Math.floor(target.getTime() / 1000);
}

/** One interval's length in seconds, roughly, for Stripe's "at most two intervals ahead" rule. */
export function intervalSeconds(interval: Interval, count: number): number {
  const day = 86_400;
  const lengths: Record<string, number> = { day, week: 7 * day, month: 28 * day, year: 365 * day };
  return count * (lengths[interval] ?? day);
}

/** Stripe sends `customer.subscription.trial_will_end` three days before a trial ends. */
export const TRIAL_WILL_END_LEAD_S = 3 * 86_400;
