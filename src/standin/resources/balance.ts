import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { allowOnly } from "../params.js";

type Bucket = { amount: number; currency: string; source_types: { card: number } };

/**
 * The account's balance as its balance transactions add up (see Funds): each one's net counts as
 * pending until its `available_on`, then as available. With no transactions Stripe still reports
 * a zero row in the account's default currency, so do we.
 */
function retrieve(ctx: ApiContext): object {
  allowOnly(ctx.params, ["expand"]);
  const rows = ctx.funds.balance(ctx.scope);
  if (rows.length === 0) {
    const currency = ctx.config.settlementCurrencies?.[0] ?? "usd";
    rows.push({ currency, available: 0, pending: 0 });
  }
  const bucket = (currency: string, amount: number): Bucket => ({
    amount,
    currency,
    source_types: { card: amount },
  });
  const balance: Stripe.Balance = {
    object: "balance",
    available: rows.map((r) => bucket(r.currency, r.available)),
    connect_reserved: rows.map((r) => ({ amount: 0, currency: r.currency })),
    livemode: false,
    pending: rows.map((r) => bucket(r.currency, r.pending)),
  };
  return balance;
}

export const balanceRoutes: Route[] = [{ method: "GET", path: "/v1/balance", handler: retrieve }];
