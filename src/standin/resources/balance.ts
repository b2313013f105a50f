import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { allowOnly } from "../params.js";

type Bucket = { amount: number; currency: string; source_types: { card: number } };

/**
 * Balance derived from balance transactions: each one's net counts as pending until settled,
 * then as available. With no transactions Stripe still reports a zero usd row, so do we.
 */
function retrieve(ctx: ApiContext): object {
  allowOnly(ctx.params, ["expand"]);
  const available = new Map<string, number>();
  const pending = new Map<string, number>();
  for (const txn of ctx.store.list(ctx.scope, "balance_transaction")) {
    const bucket = txn.status === "available" ? available : pending;
    bucket.set(txn.currency, (bucket.get(txn.currency) ?? 0) + txn.net);
  }
  const currencies = [...new Set([...available.keys(), ...pending.keys()])].sort();
  if (currencies.length === 0) currencies.push("usd");
  const rows = (bucket: Map<string, number>): Bucket[] =>
    currencies.map((currency) => {
      const amount = bucket.get(currency) ?? 0;
      return { amount, currency, source_types: { card: amount } };
    });
  const balance: Stripe.Balance = {
    object: "balance",
    available: rows(available),
    connect_reserved: currencies.map((currency) => ({ amount: 0, currency })),
    livemode: false,
    pending: rows(pending),
  };
  return balance;
}

export const balanceRoutes: Route[] = [{ method: "GET", path: "/v1/balance", handler: retrieve }];
