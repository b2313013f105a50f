import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { nowSeconds } from "../ids.js";

/**
 * What a transfer looks like from its destination account: Stripe books the money there as a
 * `py_…` Charge (the destination payment) and a reversal as a `pyr_…` Refund of it. Both are
 * stored in the connected account's scope, so the account's balance transactions expand their
 * `source` as in Stripe. Like every charge here, the payment has no `refunds` unless expanded.
 */

export interface DestinationPaymentInput {
  id: string;
  transfer: Stripe.Transfer;
  balanceTransaction: string;
  scope: string;
}

export function storeDestinationPayment(ctx: ApiContext, input: DestinationPaymentInput): Stripe.Charge {
  const { id, transfer } = input;
  const address = { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };
  const payment: Stripe.Charge = {
    id,
    object: "charge",
    amount: transfer.amount,
    amount_captured: transfer.amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: input.balanceTransaction,
    billing_details: { address, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: null,
    captured: true,
    created: transfer.created,
    currency: transfer.currency,
    customer: null,
    description: null,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: {},
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: null,
    paid: true,
    payment_intent: null,
    payment_method: null,
    payment_method_details: { type: "stripe_account", stripe_account: {} },
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: transfer.id,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: "succeeded",
    transfer_data: null,
    transfer_group: transfer.transfer_group,
  };
  return ctx.store.insert(input.scope, "charge", payment);
}

export interface DestinationRefundInput {
  id: string;
  reversal: string;
  paymentId: string;
  amount: number;
  balanceTransaction: string;
  scope: string;
}

/** Takes a reversal's amount back off the destination payment, as its `pyr_…` refund. */
export function storeDestinationRefund(ctx: ApiContext, input: DestinationRefundInput): Stripe.Refund {
  const payment = ctx.store.require(input.scope, "charge", input.paymentId);
  const refund: Stripe.Refund = {
    id: input.id,
    object: "refund",
    amount: input.amount,
    balance_transaction: input.balanceTransaction,
    charge: payment.id,
    created: nowSeconds(),
    currency: payment.currency,
    customer: null,
    customer_account: null,
    metadata: {},
    payment_intent: null,
    payment_method: null,
    reason: null,
    receipt_number: null,
    source_transfer_reversal: input.reversal,
    status: "succeeded",
    transfer_reversal: null,
  };
  ctx.store.insert(input.scope, "refund", refund);
  payment.amount_refunded += input.amount;
  payment.refunded = payment.amount_refunded >= payment.amount_captured;
  return refund;
}
