import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { parseCurrency } from "../currencies.js";
import { StripeApiError, paramError } from "../errors.js";
import { LIST_PARAMS, newestFirst, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { PLATFORM } from "../state.js";
import { requireAvailable } from "./balance-transactions.js";
import { bookTransfer, reverseTransfer } from "./transfer-flow.js";

const PLATFORM_FUNDS_MESSAGE =
  "You have insufficient available funds in your Stripe account. Try adding funds directly to your " +
  "available balance by creating Charges using the 4000000000000077 test card. " +
  "See: https://stripe.com/docs/testing#available-balance";

const CAPABILITY_MESSAGE =
  "Your destination account needs to have at least one of the following capabilities enabled: " +
  "transfers, crypto_transfers, legacy_payments";

function positiveAmount(ctx: ApiContext, required: boolean): number | undefined {
  const amount = p.optInt(ctx.params, "amount");
  if (amount === undefined && required) {
    throw paramError("Missing required param: amount.", "amount", "parameter_missing");
  }
  if (amount !== undefined && amount < 1) {
    throw paramError("This value must be greater than or equal to 1.", "amount", "parameter_invalid_integer");
  }
  return amount;
}

/**
 * Stripe's checks in Stripe's order: the destination exists, can receive transfers (its
 * `transfers` capability is active, which onboarding turns on), and the platform's AVAILABLE
 * balance covers the amount; pending card funds do not.
 */
function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    "amount",
    "currency",
    "destination",
    "transfer_group",
    "metadata",
    "description",
    "expand",
  ]);
  const amount = positiveAmount(ctx, true) ?? 0;
  const currency = parseCurrency(p.reqString(ctx.params, "currency")).code;
  const destinationId = p.reqString(ctx.params, "destination");
  const metadata = p.applyMetadata({}, ctx.params);
  const destination = ctx.store.get(PLATFORM, "account", destinationId);
  if (!destination) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "resource_missing",
      message: `No such destination: '${destinationId}'`,
      param: "destination",
    });
  }
  if (destination.capabilities?.transfers !== "active") {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "insufficient_capabilities_for_transfer",
      message: CAPABILITY_MESSAGE,
      param: "destination",
    });
  }
  requireAvailable(ctx, ctx.scope, currency, amount, PLATFORM_FUNDS_MESSAGE);
  return bookTransfer(ctx, {
    amount,
    currency,
    destination,
    description: p.optString(ctx.params, "description") ?? null,
    metadata,
    transfer_group: p.optString(ctx.params, "transfer_group") ?? null,
  });
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "transfer", pathParam(ctx, "id"));
}

/** `transfer_group` is how Coffer finds a transfer whose create timed out after Stripe acted. */
function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "created", "destination", "transfer_group"]);
  const created = rangeFilter(ctx.params, "created");
  const destination = p.optString(ctx.params, "destination");
  const group = p.optString(ctx.params, "transfer_group");
  const items = ctx.store.sequence(ctx.scope, "transfer");
  return paginate(
    items,
    ctx.params,
    "/v1/transfers",
    "transfer",
    (t) =>
      created(t.created) &&
      (destination === undefined || t.destination === destination) &&
      (group === undefined || t.transfer_group === group),
  );
}

function createReversal(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["amount", "metadata", "description", "refund_application_fee", "expand"]);
  const amount = positiveAmount(ctx, false);
  const metadata = p.applyMetadata({}, ctx.params);
  const transfer = ctx.store.require(ctx.scope, "transfer", pathParam(ctx, "id"));
  return reverseTransfer(ctx, transfer, { amount, metadata });
}

function listReversals(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS]);
  const transfer = ctx.store.require(ctx.scope, "transfer", pathParam(ctx, "id"));
  const url = `/v1/transfers/${transfer.id}/reversals`;
  return paginate(newestFirst(transfer.reversals.data), ctx.params, url, "transfer_reversal");
}

export const transferRoutes: Route[] = [
  { method: "POST", path: "/v1/transfers", handler: create },
  { method: "GET", path: "/v1/transfers", handler: list },
  { method: "GET", path: "/v1/transfers/:id", handler: retrieve },
  { method: "POST", path: "/v1/transfers/:id/reversals", handler: createReversal },
  { method: "GET", path: "/v1/transfers/:id/reversals", handler: listReversals },
];
