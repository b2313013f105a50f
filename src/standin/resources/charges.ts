import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { newId, nowSeconds } from "../ids.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import { allowOnly, optString } from "../params.js";
import type { TestBankDebit, TestCard, TestPaymentMethod } from "../payment-methods.js";

const EMPTY_ADDRESS = { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };

function outcome(card: TestPaymentMethod): Stripe.Charge.Outcome {
  const base = {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    risk_level: "normal",
  };
  return card.type === "card" && card.decline
    ? {
        ...base,
        network_status: "declined_by_network",
        reason: card.decline.declineCode,
        seller_message: "The bank did not return any further details with this decline.",
        type: "issuer_declined",
      }
    : {
        ...base,
        network_status: "approved_by_network",
        reason: null,
        seller_message: "Payment complete.",
        type: "authorized",
      };
}

function cardDetails(card: TestCard, amountMinor: number): Stripe.Charge.PaymentMethodDetails {
  return {
    type: "card",
    card: {
      amount_authorized: card.decline ? null : amountMinor,
      authorization_code: null,
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: "US",
      electronic_commerce_indicator: null,
      exp_month: 12,
      exp_year: new Date().getUTCFullYear() + 3,
      funding: card.funding,
      installments: null,
      mandate: null,
      network: card.brand,
      network_transaction_id: null,
      regulated_status: null,
      last4: card.last4,
      three_d_secure: null,
      transaction_link_id: null,
      wallet: null,
    },
  };
}

function bankDetails(bank: TestBankDebit): Stripe.Charge.PaymentMethodDetails {
  // No routing, bank or branch codes: the stand-in hands out no bank numbers anywhere.
  if (bank.type === "sepa_debit") {
    return {
      type: "sepa_debit",
      sepa_debit: {
        bank_code: null,
        branch_code: null,
        country: "DE",
        fingerprint: null,
        last4: bank.last4,
        mandate: null,
      },
    };
  }
  return {
    type: "us_bank_account",
    us_bank_account: {
      account_holder_type: "individual",
      account_type: "checking",
      bank_name: bank.bankName,
      fingerprint: null,
      last4: bank.last4,
      payment_reference: null,
      routing_number: null,
    },
  };
}

/**
 * The Charge behind one confirmation attempt of a PaymentIntent. A declined card still creates a
 * (failed) Charge, as in Stripe; an authorized one is `captured: false` until capture. A bank
 * debit is Stripe's `py_…` payment, `pending` (not paid, nothing captured) until it clears.
 * `refunds` is left out, as Stripe leaves it out unless expanded (expandable.ts).
 */
export function createCharge(
  ctx: ApiContext,
  pi: Stripe.PaymentIntent,
  paymentMethod: string,
  method: TestPaymentMethod,
): Stripe.Charge {
  const card = method.type === "card" ? method : undefined;
  const failed = card?.decline !== undefined;
  const id = newId(card ? "ch" : "py");
  const charge: Stripe.Charge = {
    id,
    object: "charge",
    amount: pi.amount,
    amount_captured: 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: { address: EMPTY_ADDRESS, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: "COFFER",
    captured: false,
    created: nowSeconds(),
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: card?.decline?.code ?? null,
    failure_message: card?.decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: { ...pi.metadata },
    on_behalf_of: null,
    outcome: outcome(method),
    paid: card !== undefined && !failed,
    payment_intent: pi.id,
    payment_method: paymentMethod,
    payment_method_details: method.type === "card" ? cardDetails(method, pi.amount) : bankDetails(method),
    receipt_email: pi.receipt_email,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: pi.statement_descriptor,
    statement_descriptor_suffix: pi.statement_descriptor_suffix,
    status: card ? (failed ? "failed" : "succeeded") : "pending",
    transfer_data: null,
    transfer_group: pi.transfer_group,
  };
  return ctx.store.insert(ctx.scope, "charge", charge);
}

function retrieve(ctx: ApiContext): object {
  allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "charge", pathParam(ctx, "id"));
}

function list(ctx: ApiContext): object {
  allowOnly(ctx.params, [...LIST_PARAMS, "created", "customer", "payment_intent", "transfer_group"]);
  const created = rangeFilter(ctx.params, "created");
  const filters = {
    customer: optString(ctx.params, "customer"),
    payment_intent: optString(ctx.params, "payment_intent"),
    transfer_group: optString(ctx.params, "transfer_group"),
  };
  const items = ctx.store.sequence(ctx.scope, "charge");
  return paginate(
    items,
    ctx.params,
    "/v1/charges",
    "charge",
    (c) =>
      created(c.created) &&
      (filters.customer === undefined || c.customer === filters.customer) &&
      (filters.payment_intent === undefined || c.payment_intent === filters.payment_intent) &&
      (filters.transfer_group === undefined || c.transfer_group === filters.transfer_group),
  );
}

export const chargeRoutes: Route[] = [
  { method: "GET", path: "/v1/charges/:id", handler: retrieve },
  { method: "GET", path: "/v1/charges", handler: list },
];
