import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { parseCurrency } from "../currencies.js";
import { invalidRequest, paramError, resourceMissing } from "../errors.js";
import { newId, nowSeconds } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { connectedAccount } from "./accounts.js";
import { createMovementTransaction, requireAvailable } from "./balance-transactions.js";
import { defaultExternalAccount, findExternalAccount } from "./external-account-flow.js";

const FUNDS_MESSAGE =
  "You have insufficient funds in your Stripe account for this transfer. Your card balance is too low. " +
  "You can use the /v1/balance endpoint to view your Stripe balance (for more details, see stripe.com/docs/api#balance).";

// The platform's own bank is outside the stand-in; payouts from the platform name this one.
const PLATFORM_BANK = "ba_standinplatformbank00000";

const DAY_S = 86_400;

/** Standard payouts land two days later; Stripe gives the arrival day as midnight UTC. */
function arrivalDate(created: number): number {
  return Math.floor((created + 2 * DAY_S) / DAY_S) * DAY_S;
}

/**
 * Where the money goes, and whether this account may pay out at all: the named external account,
 * or the account's default one for the payout's currency. Stripe converts nothing here, so a
 * currency with no external account is refused.
 */
function destinationFor(ctx: ApiContext, currency: string): string {
  const account = connectedAccount(ctx);
  if (account === undefined) return PLATFORM_BANK;
  if (!account.payouts_enabled) {
    const message = `Payouts have been disabled on the connected account ${account.id}; it has requirements due.`;
    throw invalidRequest(message, { code: "payouts_not_allowed" });
  }
  const named = p.optString(ctx.params, "destination");
  if (named !== undefined) {
    const bank = findExternalAccount(account, named);
    if (bank === undefined) throw resourceMissing("external account", named, "destination");
    if (bank.currency !== currency) {
      const message = `The currency of the external account (${bank.currency}) does not match the payout's (${currency}).`;
      throw paramError(message, "destination");
    }
    return bank.id;
  }
  const bank = defaultExternalAccount(account, currency);
  if (bank === undefined) {
    throw invalidRequest(`Sorry, you don't have any external accounts in that currency (${currency}).`);
  }
  return bank.id;
}

/**
 * A payout of the available balance of the account in the `Stripe-Account` header (or the
 * platform's). It starts `pending`; the bank's answer comes through the paid and fail controls.
 */
function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    "amount",
    "currency",
    "metadata",
    "method",
    "description",
    "statement_descriptor",
    "destination",
    "expand",
  ]);
  const amount = p.optInt(ctx.params, "amount");
  if (amount === undefined)
    throw paramError("Missing required param: amount.", "amount", "parameter_missing");
  if (amount < 1) {
    throw paramError("This value must be greater than or equal to 1.", "amount", "parameter_invalid_integer");
  }
  const currency = parseCurrency(p.reqString(ctx.params, "currency")).code;
  const method = p.optEnum(ctx.params, "method", ["standard", "instant"]) ?? "standard";
  const metadata = p.applyMetadata({}, ctx.params);
  const destination = destinationFor(ctx, currency);
  if (method === "instant") {
    const message = "This bank account is not eligible for Instant Payouts. Try a debit card instead.";
    throw invalidRequest(message, { code: "instant_payouts_unsupported", param: "method" });
  }
  requireAvailable(ctx, ctx.scope, currency, amount, FUNDS_MESSAGE);
  const id = newId("po");
  const txn = createMovementTransaction(ctx, {
    amount: -amount,
    currency,
    type: "payout",
    reporting_category: "payout",
    source: id,
    description: "STRIPE PAYOUT",
    available: true,
  });
  const created = nowSeconds();
  const payout: Stripe.Payout = {
    id,
    object: "payout",
    amount,
    application_fee: null,
    application_fee_amount: null,
    arrival_date: arrivalDate(created),
    automatic: false,
    balance_transaction: txn.id,
    created,
    currency,
    description: p.optString(ctx.params, "description") ?? null,
    destination,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    livemode: false,
    metadata,
    method,
    original_payout: null,
    payout_method: null,
    reconciliation_status: "not_applicable",
    reversed_by: null,
    source_type: "card",
    statement_descriptor: p.optString(ctx.params, "statement_descriptor") ?? null,
    status: "pending",
    trace_id: { status: "pending", value: null },
    type: "bank_account",
  };
  ctx.store.insert(ctx.scope, "payout", payout);
  ctx.emit("payout.created", payout);
  return payout;
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  connectedAccount(ctx);
  return ctx.store.require(ctx.scope, "payout", pathParam(ctx, "id"));
}

/** Coffer lists recent payouts and matches `metadata.withdrawal_id` so it never pays twice. */
function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "created", "arrival_date", "status", "destination"]);
  connectedAccount(ctx);
  const created = rangeFilter(ctx.params, "created");
  const arrival = rangeFilter(ctx.params, "arrival_date");
  const status = p.optString(ctx.params, "status");
  const destination = p.optString(ctx.params, "destination");
  const items = ctx.store.sequence(ctx.scope, "payout");
  return paginate(
    items,
    ctx.params,
    "/v1/payouts",
    "payout",
    (po) =>
      created(po.created) &&
      arrival(po.arrival_date) &&
      (status === undefined || po.status === status) &&
      (destination === undefined || po.destination === destination),
  );
}

export const payoutRoutes: Route[] = [
  { method: "POST", path: "/v1/payouts", handler: create },
  { method: "GET", path: "/v1/payouts", handler: list },
  { method: "GET", path: "/v1/payouts/:id", handler: retrieve },
];
