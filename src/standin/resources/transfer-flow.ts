import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../errors.js";
import { newId, nowSeconds } from "../ids.js";
import { createMovementTransaction, requireAvailable } from "./balance-transactions.js";
import { storeDestinationPayment, storeDestinationRefund } from "./destination-payments.js";

declare module "../state.js" {
  interface ObjectTypes {
    transfer: Stripe.Transfer;
    transfer_reversal: Stripe.TransferReversal;
  }
}

export interface TransferInput {
  amount: number;
  currency: string;
  destination: Stripe.Account;
  description: string | null;
  metadata: Record<string, string>;
  transfer_group: string | null;
}

/**
 * Moves available funds from the platform to a connected account: a `transfer` debit on the
 * platform and, on the account, a `payment` credit (Stripe's `py_…` destination payment) that is
 * available at once, so the account can pay it out straight away.
 */
export function bookTransfer(ctx: ApiContext, input: TransferInput): Stripe.Transfer {
  const id = newId("tr");
  const paymentId = newId("py");
  const txn = createMovementTransaction(ctx, {
    amount: -input.amount,
    currency: input.currency,
    type: "transfer",
    reporting_category: "transfer",
    source: id,
    description: input.description,
    available: true,
  });
  const credit = createMovementTransaction(ctx, {
    amount: input.amount,
    currency: input.currency,
    type: "payment",
    reporting_category: "charge",
    source: paymentId,
    description: null,
    available: true,
    scope: input.destination.id,
  });
  const transfer: Stripe.Transfer = {
    id,
    object: "transfer",
    amount: input.amount,
    amount_reversed: 0,
    balance_transaction: txn.id,
    created: nowSeconds(),
    currency: input.currency,
    description: input.description,
    destination: input.destination.id,
    destination_payment: paymentId,
    livemode: false,
    metadata: input.metadata,
    reversals: { object: "list", data: [], has_more: false, url: `/v1/transfers/${id}/reversals` },
    reversed: false,
    source_transaction: null,
    source_type: "card",
    transfer_group: input.transfer_group,
  };
  ctx.store.insert(ctx.scope, "transfer", transfer);
  storeDestinationPayment(ctx, {
    id: paymentId,
    transfer,
    balanceTransaction: credit.id,
    scope: input.destination.id,
  });
  ctx.emit("transfer.created", transfer);
  return transfer;
}

export interface ReversalInput {
  /** Default: everything not reversed yet. */
  amount?: number | undefined;
  metadata?: Record<string, string> | undefined;
  /**
   * Skip the balance rule, leaving the account negative: what Stripe does for accounts with
   * Connected Reserves. Only the stand-in's reverse control offers it.
   */
  allowNegative?: boolean | undefined;
}

function destinationOf(transfer: Stripe.Transfer): string {
  const d = transfer.destination;
  const id = typeof d === "string" ? d : d?.id;
  if (id === undefined) throw new Error(`transfer ${transfer.id} has no destination`);
  return id;
}

/**
 * Takes money back from the connected account. Stripe allows it only while the account's
 * available balance covers it, so a transfer already paid out cannot be reversed until the
 * payout fails and the money is back (see allowNegative). Every reversal, partial ones too, is
 * `transfer.reversed`.
 */
export function reverseTransfer(
  ctx: ApiContext,
  transfer: Stripe.Transfer,
  input: ReversalInput,
): Stripe.TransferReversal {
  const remaining = transfer.amount - transfer.amount_reversed;
  if (remaining <= 0) {
    throw invalidRequest(`Transfer ${transfer.id} has already been fully reversed.`);
  }
  const amount = input.amount ?? remaining;
  if (amount > remaining) {
    const message = `You cannot reverse more than the remaining ${remaining} of transfer ${transfer.id} (asked ${amount}).`;
    throw invalidRequest(message, { param: "amount" });
  }
  const destination = destinationOf(transfer);
  const message = `Insufficient funds in the destination account ${destination} to reverse this transfer.`;
  if (!input.allowNegative) requireAvailable(ctx, destination, transfer.currency, amount, message);
  const id = newId("trr");
  const refundId = newId("pyr");
  const txn = createMovementTransaction(ctx, {
    amount,
    currency: transfer.currency,
    type: "transfer_refund",
    reporting_category: "transfer_reversal",
    source: id,
    description: null,
    available: true,
  });
  const debit = createMovementTransaction(ctx, {
    amount: -amount,
    currency: transfer.currency,
    type: "payment_refund",
    reporting_category: "refund",
    source: refundId,
    description: null,
    available: true,
    scope: destination,
  });
  const reversal: Stripe.TransferReversal = {
    id,
    object: "transfer_reversal",
    amount,
    balance_transaction: txn.id,
    created: nowSeconds(),
    currency: transfer.currency,
    destination_payment_refund: refundId,
    metadata: input.metadata ?? {},
    source_refund: null,
    transfer: transfer.id,
  };
  ctx.store.insert(ctx.scope, "transfer_reversal", reversal);
  if (typeof transfer.destination_payment === "string") {
    storeDestinationRefund(ctx, {
      id: refundId,
      reversal: id,
      paymentId: transfer.destination_payment,
      amount,
      balanceTransaction: debit.id,
      scope: destination,
    });
  }
  const previous: Record<string, unknown> = { amount_reversed: transfer.amount_reversed };
  transfer.amount_reversed += amount;
  if (transfer.amount_reversed >= transfer.amount) {
    previous.reversed = transfer.reversed;
    transfer.reversed = true;
  }
  // The stored reversal itself, newest first, as the transfer's reversals list shows it.
  transfer.reversals.data.unshift(reversal);
  ctx.emit("transfer.reversed", transfer, previous);
  return reversal;
}
