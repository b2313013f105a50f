import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { invalidRequest } from "../errors.js";
import { newId, nowSeconds } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import { allowOnly, optString } from "../params.js";
import type { Store } from "../state.js";

// Stripe makes card funds available after a couple of days; only the settle control moves them.
const AVAILABLE_AFTER_S = 2 * 86_400;

/** Stripe's processing fee on a charge. Number is exact here: amount ≤ 99 999 999, so × bps < 2^53. */
export function processingFee(amountMinor: number, ctx: ApiContext): number {
  return Math.round((amountMinor * ctx.config.feeBps) / 10_000) + ctx.config.feeFixedMinor;
}

/** The balance transaction for captured funds: gross amount, Stripe's fee, net, pending at first. */
export function createChargeTransaction(
  ctx: ApiContext,
  charge: Stripe.Charge,
  amountMinor: number,
): Stripe.BalanceTransaction {
  const fee = processingFee(amountMinor, ctx);
  const created = nowSeconds();
  const txn: Stripe.BalanceTransaction = {
    id: newId("txn"),
    object: "balance_transaction",
    amount: amountMinor,
    available_on: created + AVAILABLE_AFTER_S,
    balance_type: "payments",
    created,
    currency: charge.currency,
    description: charge.description,
    exchange_rate: null,
    fee,
    fee_details: [
      {
        amount: fee,
        application: null,
        currency: charge.currency,
        description: "Stripe processing fees",
        type: "stripe_fee",
      },
    ],
    net: amountMinor - fee,
    reporting_category: "charge",
    source: charge.id,
    status: "pending",
    type: "charge",
  };
  return ctx.store.insert(ctx.scope, "balance_transaction", txn);
}

/** What a refund or dispute moves; `fee` is Stripe's, always described as a stripe_fee. */
export interface MovementInput {
  amount: number;
  currency: string;
  type: Stripe.BalanceTransaction.Type;
  reporting_category: string;
  /** The re_… or dp_… the money moved for. */
  source: string;
  description: string | null;
  fee?: { amount: number; description: string };
  /** Refunds come out of the available balance at once; dispute movements settle like charges. */
  available: boolean;
  /** Whose books it goes in when not the request's: a transfer also credits its destination. */
  scope?: string;
}

/** A balance transaction for money Stripe moves after a charge: refunds, their failures, disputes. */
export function createMovementTransaction(ctx: ApiContext, input: MovementInput): Stripe.BalanceTransaction {
  const created = nowSeconds();
  const fee = input.fee?.amount ?? 0;
  const txn: Stripe.BalanceTransaction = {
    id: newId("txn"),
    object: "balance_transaction",
    amount: input.amount,
    available_on: input.available ? created : created + AVAILABLE_AFTER_S,
    balance_type: "payments",
    created,
    currency: input.currency,
    description: input.description,
    exchange_rate: null,
    fee,
    fee_details: input.fee
      ? [
          {
            amount: fee,
            application: null,
            currency: input.currency,
            description: input.fee.description,
            type: "stripe_fee",
          },
        ]
      : [],
    net: input.amount - fee,
    reporting_category: input.reporting_category,
    source: input.source,
    status: input.available ? "available" : "pending",
    type: input.type,
  };
  return ctx.store.insert(input.scope ?? ctx.scope, "balance_transaction", txn);
}

/**
 * What an account can spend now in one currency: the net of its available balance transactions,
 * as `GET /v1/balance` reports it. Pending card funds do not count, which is why Stripe refuses
 * transfers and payouts with `balance_insufficient` until they settle.
 */
export function availableBalance(store: Store, scope: string, currency: string): number {
  let total = 0;
  for (const txn of store.list(scope, "balance_transaction")) {
    if (txn.status === "available" && txn.currency === currency) total += txn.net;
  }
  return total;
}

/**
 * Stripe's `balance_insufficient` when an account's available balance cannot cover `amount`. The
 * endpoint already ran, so like any such result it is saved under the idempotency key.
 */
export function requireAvailable(
  ctx: ApiContext,
  scope: string,
  currency: string,
  amount: number,
  message: string,
): void {
  if (availableBalance(ctx.store, scope, currency) < amount) {
    throw invalidRequest(message, { code: "balance_insufficient" });
  }
}

/** Makes every pending balance transaction available (in every scope), as if days had passed. */
export function settleAll(store: Store): number {
  const now = nowSeconds();
  let settled = 0;
  for (const txn of store.all("balance_transaction")) {
    if (txn.status !== "pending") continue;
    txn.status = "available";
    txn.available_on = Math.min(txn.available_on, now);
    settled += 1;
  }
  return settled;
}

function retrieve(ctx: ApiContext): object {
  allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "balance_transaction", pathParam(ctx, "id"));
}

function list(ctx: ApiContext): object {
  allowOnly(ctx.params, [...LIST_PARAMS, "created", "type", "source", "currency", "payout"]);
  const created = rangeFilter(ctx.params, "created");
  const type = optString(ctx.params, "type");
  const source = optString(ctx.params, "source");
  const currency = optString(ctx.params, "currency")?.toLowerCase();
  const items = ctx.store.list(
    ctx.scope,
    "balance_transaction",
    (t) =>
      created(t.created) &&
      (type === undefined || t.type === type) &&
      (source === undefined || t.source === source) &&
      (currency === undefined || t.currency === currency),
  );
  return paginate(items, ctx.params, "/v1/balance_transactions", "balance_transaction");
}

export const balanceTransactionRoutes: Route[] = [
  { method: "GET", path: "/v1/balance_transactions/:id", handler: retrieve },
  { method: "GET", path: "/v1/balance_transactions", handler: list },
];
