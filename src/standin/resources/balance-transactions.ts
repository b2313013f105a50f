import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { invalidRequest } from "../errors.js";
import { inSettlement, settlementOf } from "../fx.js";
import type { Settlement } from "../fx.js";
import { newId, nowSeconds } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import { allowOnly, optString } from "../params.js";

/**
 * Stripe makes card funds available after a couple of days (longer for new accounts); the
 * stand-in's `availableAfterS` option changes it. Funds.settleDue or the settle control moves them.
 */
export const CARD_AVAILABLE_AFTER_S = 2 * 86_400;

/** Stripe's processing fee on a charge. Number is exact here: amount ≤ 99 999 999, so × bps < 2^53. */
export function processingFee(amountMinor: number, ctx: ApiContext): number {
  return Math.round((amountMinor * ctx.config.feeBps) / 10_000) + ctx.config.feeFixedMinor;
}

/** What differs between balance transactions; the rest follows from it. */
export interface TransactionInput {
  /** In `currency`, the account's: already converted when Stripe converted it. */
  amount: number;
  currency: string;
  exchange_rate: number | null;
  type: Stripe.BalanceTransaction.Type;
  reporting_category: string;
  /** The object the money moved for; null for Stripe's own fees and adjustments. */
  source: string | null;
  description: string | null;
  /** Stripe's fee, in `currency`, always described as a stripe_fee. */
  fee?: { amount: number; description: string } | undefined;
  /** Available at once, or pending for the configured delay (CARD_AVAILABLE_AFTER_S) like card funds. */
  available: boolean;
}

/** Books a balance transaction in `scope`: stored, and counted in that scope's balance. */
export function bookTransaction(
  ctx: ApiContext,
  scope: string,
  input: TransactionInput,
): Stripe.BalanceTransaction {
  const created = nowSeconds();
  const fee = input.fee?.amount ?? 0;
  const feeDetails = input.fee
    ? [
        {
          amount: fee,
          application: null,
          currency: input.currency,
          description: input.fee.description,
          type: "stripe_fee",
        },
      ]
    : [];
  const txn: Stripe.BalanceTransaction = {
    id: newId("txn"),
    object: "balance_transaction",
    amount: input.amount,
    available_on: input.available
      ? created
      : created + (ctx.config.availableAfterS ?? CARD_AVAILABLE_AFTER_S),
    balance_type: "payments",
    created,
    currency: input.currency,
    description: input.description,
    exchange_rate: input.exchange_rate,
    fee,
    fee_details: feeDetails,
    net: input.amount - fee,
    reporting_category: input.reporting_category,
    source: input.source,
    status: input.available ? "available" : "pending",
    type: input.type,
  };
  ctx.store.insert(scope, "balance_transaction", txn);
  ctx.funds.book(scope, txn);
  return txn;
}

/**
 * The balance transaction for captured funds: gross amount, Stripe's fee, net, pending at first.
 * A charge in a currency the account does not settle in is converted first, and the fee is
 * worked out on the converted amount, in the settlement currency, as Stripe does.
 */
export function createChargeTransaction(
  ctx: ApiContext,
  charge: Stripe.Charge,
  amountMinor: number,
): Stripe.BalanceTransaction {
  const settlement = settlementOf(ctx.config.settlementCurrencies, charge.currency);
  const settled = inSettlement(amountMinor, charge.currency, settlement);
  return bookTransaction(ctx, ctx.scope, {
    ...settled,
    type: "charge",
    reporting_category: "charge",
    source: charge.id,
    description: charge.description,
    fee: { amount: processingFee(settled.amount, ctx), description: "Stripe processing fees" },
    available: false,
  });
}

/**
 * How a captured charge's money settled, from its balance transaction: refunds, refund failures
 * and dispute movements on the charge convert at the same rate into the same currency.
 */
export function chargeSettlement(ctx: ApiContext, charge: Stripe.Charge): Settlement {
  const ref = charge.balance_transaction;
  const id = typeof ref === "string" ? ref : ref?.id;
  const txn = id === undefined ? undefined : ctx.store.get(ctx.scope, "balance_transaction", id);
  return txn
    ? { currency: txn.currency, exchangeRate: txn.exchange_rate }
    : { currency: charge.currency, exchangeRate: null };
}

/** What a refund, dispute, transfer or payout moves, in the currency of the object it is for. */
export interface MovementInput extends Omit<TransactionInput, "exchange_rate"> {
  /** The charge's settlement, for money that follows a charge (refunds, disputes). */
  settlement?: Settlement;
  /** Whose books it goes in when not the request's: a transfer also credits its destination. */
  scope?: string;
}

/** A balance transaction for money Stripe moves after a charge or on the platform's request. */
export function createMovementTransaction(ctx: ApiContext, input: MovementInput): Stripe.BalanceTransaction {
  const { settlement, scope, ...rest } = input;
  const settled = settlement
    ? inSettlement(input.amount, input.currency, settlement)
    : { amount: input.amount, currency: input.currency, exchange_rate: null };
  return bookTransaction(ctx, scope ?? ctx.scope, { ...rest, ...settled });
}

/**
 * Stripe's `balance_insufficient` when an account's available balance cannot cover `amount`:
 * pending card funds do not count. The endpoint already ran, so like any such result it is saved
 * under the idempotency key.
 */
export function requireAvailable(
  ctx: ApiContext,
  scope: string,
  currency: string,
  amount: number,
  message: string,
): void {
  if (ctx.funds.available(scope, currency) < amount) {
    throw invalidRequest(message, { code: "balance_insufficient" });
  }
}

function retrieve(ctx: ApiContext): object {
  allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "balance_transaction", pathParam(ctx, "id"));
}

/** Stripe filters by payout only for automatic payouts; every payout here is a manual one. */
function refusePayoutFilter(ctx: ApiContext): void {
  const payout = optString(ctx.params, "payout");
  if (payout === undefined) return;
  ctx.store.require(ctx.scope, "payout", payout, "payout");
  const message = "Balance transaction history can only be filtered on automatic transfers, not manual.";
  throw invalidRequest(message, { param: "payout" });
}

function list(ctx: ApiContext): object {
  allowOnly(ctx.params, [...LIST_PARAMS, "created", "type", "source", "currency", "payout"]);
  const created = rangeFilter(ctx.params, "created");
  const type = optString(ctx.params, "type");
  const source = optString(ctx.params, "source");
  const currency = optString(ctx.params, "currency")?.toLowerCase();
  refusePayoutFilter(ctx);
  const items = ctx.store.sequence(ctx.scope, "balance_transaction");
  return paginate(
    items,
    ctx.params,
    "/v1/balance_transactions",
    "balance_transaction",
    (t) =>
      created(t.created) &&
      (type === undefined || t.type === type) &&
      (source === undefined || t.source === source) &&
      (currency === undefined || t.currency === currency),
  );
}

export const balanceTransactionRoutes: Route[] = [
  { method: "GET", path: "/v1/balance_transactions/:id", handler: retrieve },
  { method: "GET", path: "/v1/balance_transactions", handler: list },
];
