import type Stripe from "stripe";
import { nowSeconds } from "./ids.js";

export interface CurrencyFunds {
  available: number;
  pending: number;
}

/**
 * What an account's balance transactions add up to, per scope and currency, kept as each one is
 * booked: `GET /v1/balance` and the `balance_insufficient` checks read two numbers instead of
 * every transaction, which matters once a day holds 100,000 of them. A pending transaction
 * becomes available once its `available_on` has passed (settleDue, before every request) or
 * when the settle control says so.
 */
export class Funds {
  readonly #totals = new Map<string, Map<string, CurrencyFunds>>();
  // Oldest available_on first, so settling what is due reads only what is due.
  #pending: Array<{ scope: string; txn: Stripe.BalanceTransaction }> = [];

  #bucket(scope: string, currency: string): CurrencyFunds {
    const byCurrency = this.#totals.get(scope) ?? new Map<string, CurrencyFunds>();
    this.#totals.set(scope, byCurrency);
    const bucket = byCurrency.get(currency) ?? { available: 0, pending: 0 };
    byCurrency.set(currency, bucket);
    return bucket;
  }

  /** Counts a new balance transaction in its scope's balance. */
  book(scope: string, txn: Stripe.BalanceTransaction): void {
    const bucket = this.#bucket(scope, txn.currency);
    if (txn.status === "available") {
      bucket.available += txn.net;
      return;
    }
    bucket.pending += txn.net;
    this.#queue({ scope, txn });
  }

  #queue(entry: { scope: string; txn: Stripe.BalanceTransaction }): void {
    // Almost always the newest, so this finds its place at the end at once.
    let i = this.#pending.length;
    while (i > 0 && (this.#pending[i - 1]?.txn.available_on ?? 0) > entry.txn.available_on) i -= 1;
    this.#pending.splice(i, 0, entry);
  }

  #settle(count: number, now: number): number {
    for (const { scope, txn } of this.#pending.slice(0, count)) {
      const bucket = this.#bucket(scope, txn.currency);
      bucket.pending -= txn.net;
      bucket.available += txn.net;
      txn.status = "available";
      txn.available_on = Math.min(txn.available_on, now);
    }
    this.#pending.splice(0, count);
    return count;
  }

  /**
   * Moves a pending transaction's `available_on` (a reserve, a payout schedule change: Stripe does
   * this on its own). Only pending funds move: once available they stay available, and Stripe holds
   * back available money with a separate reserve transaction instead. False when not pending.
   */
  reschedule(id: string, availableOn: number): boolean {
    const at = this.#pending.findIndex(({ txn }) => txn.id === id);
    if (at < 0) return false;
    const [entry] = this.#pending.splice(at, 1);
    entry!.txn.available_on = availableOn;
    this.#queue(entry!);
    return true;
  }

  /** Makes available what has reached its `available_on`; returns how many moved. */
  settleDue(now = nowSeconds()): number {
    const due = this.#pending.findIndex(({ txn }) => txn.available_on > now);
    return this.#settle(due < 0 ? this.#pending.length : due, now);
  }

  /** Makes every pending transaction available (in every scope), as if days had passed. */
  settleAll(): number {
    return this.#settle(this.#pending.length, nowSeconds());
  }

  /** Per currency, in currency order; empty for an account that never moved money. */
  balance(scope: string): Array<{ currency: string } & CurrencyFunds> {
    const byCurrency = this.#totals.get(scope) ?? new Map<string, CurrencyFunds>();
    return [...byCurrency.entries()]
      .map(([currency, funds]) => ({ currency, ...funds }))
      .sort((a, b) => a.currency.localeCompare(b.currency));
  }

  available(scope: string, currency: string): number {
    return this.#totals.get(scope)?.get(currency)?.available ?? 0;
  }
}
