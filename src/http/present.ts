import { z } from "zod";
import type { WalletBalance } from "../db/stores/balances.js";
import type { EntryRow } from "../db/stores/ledger-entries.js";
import { PI_STATUS_RANK, type TopUpRow } from "../db/stores/top-ups.js";
import { WITHDRAWAL_STATUSES, type WithdrawalRow } from "../db/stores/withdrawals.js";

/**
 * API shapes: a zod schema per response object (the one /openapi.json shows, `.meta({ id })`
 * naming it there) and the presenter that builds it, typed by the schema so that neither can
 * gain or lose a field alone. Amounts stay integers of minor units; internal columns never leak.
 */
const currency = z.string().meta({ description: "Lowercase ISO 4217 code" });
const timestamp = z.iso.datetime();
const minor = z.int();
/**
 * A deprecated decimal twin of `<field>_minor`, present only with `?include=legacy_amounts`
 * (src/http/legacy-amounts.ts adds it): exact, the currency's exponent of decimals.
 */
const legacyDecimal = (field: string) =>
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/)
    .optional()
    .meta({
      deprecated: true,
      description: `${field}_minor as a decimal string (\`"12.34"\`), only with ?include=legacy_amounts`,
    });

/** A page of a list, Stripe's style: `?limit=&starting_after=<last id>` gives the next one. */
export const list = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), has_more: z.boolean() });

export const Balance = z
  .object({
    currency,
    available_minor: minor.meta({ description: "Negative only after a Stripe-forced debit" }),
    available: legacyDecimal("available"),
    pending_minor: minor.meta({ description: "Uncaptured card authorizations (a memo, not a posting)" }),
    pending: legacyDecimal("pending"),
    held_minor: minor.meta({ description: "Held for withdrawals awaiting review or payout" }),
    held: legacyDecimal("held"),
    settling_minor: z.int().min(0).meta({
      description:
        "The part of available_minor Stripe still holds as pending (a card payment's funds before its balance transaction's available_on); falls to 0 as funds settle. Withdrawals draw only on available_minor − settling_minor unless WITHDRAW_UNSETTLED=true",
    }),
    settling: legacyDecimal("settling"),
  })
  .meta({ id: "Balance" });
export const Wallet = z.object({ user_id: z.string(), balances: z.array(Balance) }).meta({ id: "Wallet" });

export const presentBalance = (b: WalletBalance): z.output<typeof Balance> => ({
  currency: b.currency,
  available_minor: b.available_minor,
  pending_minor: b.pending_minor,
  held_minor: b.held_minor,
  settling_minor: b.settling_minor,
});

export const ENTRY_ID_PREFIX = "le_";

export const LedgerEntry = z
  .object({
    id: z.string(),
    transaction_id: z.string(),
    account: z.enum(["available", "held"]),
    currency,
    amount_minor: minor.meta({ description: "Signed: positive moved in, negative moved out" }),
    kind: z
      .string()
      .meta({ description: "The movement, as in the postings table (src/ledger/movements.ts)" }),
    source_id: z.string().meta({ description: "The Stripe or Coffer object the movement belongs to" }),
    created_at: timestamp,
  })
  .meta({ id: "LedgerEntry" });

export const presentEntry = (e: EntryRow): z.output<typeof LedgerEntry> => ({
  id: `${ENTRY_ID_PREFIX}${e.id}`,
  transaction_id: String(e.transaction_id),
  account: e.account as "available" | "held",
  currency: e.currency,
  amount_minor: e.amount_minor,
  kind: e.kind,
  source_id: e.source_id,
  created_at: e.created_at.toISOString(),
});

/** `creating` is Coffer's (before Stripe answered), `failed` a PaymentIntent Stripe refused; the rest Stripe's. */
const topUpStatus = z.enum(Object.keys(PI_STATUS_RANK).concat("failed") as [string, ...string[]]);

export const TopUp = z
  .object({
    id: z.string(),
    payment_intent_id: z.string().nullable(),
    amount_minor: minor,
    amount: legacyDecimal("amount"),
    currency,
    status: topUpStatus,
    amount_received_minor: minor,
    amount_received: legacyDecimal("amount_received"),
    pending_minor: minor.meta({ description: "Authorized, not captured yet" }),
    pending: legacyDecimal("pending"),
    refunded_minor: minor,
    refunded: legacyDecimal("refunded"),
    created_at: timestamp,
  })
  .meta({ id: "TopUp" });

export const presentTopUp = (t: TopUpRow): z.output<typeof TopUp> => ({
  id: t.id,
  payment_intent_id: t.payment_intent_id,
  amount_minor: t.amount_minor,
  currency: t.currency,
  status: t.status,
  amount_received_minor: t.amount_received_minor,
  pending_minor: t.status === "requires_capture" ? t.amount_capturable_minor : 0,
  refunded_minor: t.refunded_minor,
  created_at: t.created_at.toISOString(),
});

export const CreatedTopUp = z
  .object({
    id: z.string(),
    payment_intent_id: z.string().nullable(),
    client_secret: z
      .string()
      .nullable()
      .meta({ description: "The PaymentIntent's, for the frontend to confirm the payment with Stripe.js" }),
    amount_minor: minor,
    amount: legacyDecimal("amount"),
    currency,
    status: topUpStatus,
  })
  .meta({ id: "CreatedTopUp" });

/** The create response, with the client_secret the frontend needs to confirm the payment. */
export const presentCreatedTopUp = (t: TopUpRow): z.output<typeof CreatedTopUp> => ({
  id: t.id,
  payment_intent_id: t.payment_intent_id,
  client_secret: t.client_secret,
  amount_minor: t.amount_minor,
  currency: t.currency,
  status: t.status,
});

const withdrawalFields = {
  id: z.string(),
  status: z.enum(WITHDRAWAL_STATUSES),
  amount_minor: minor.meta({ description: "Held from the wallet" }),
  amount: legacyDecimal("amount"),
  fee_minor: minor,
  fee: legacyDecimal("fee"),
  net_minor: minor.meta({ description: "What the user receives: amount − fee" }),
  net: legacyDecimal("net"),
  currency,
};
export const CreatedWithdrawal = z.object(withdrawalFields).meta({ id: "CreatedWithdrawal" });

export const Withdrawal = z
  .object({
    ...withdrawalFields,
    reason: z.string().nullable().meta({ description: "An admin's reason for the decision" }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: "Withdrawal" });

export const presentWithdrawal = (w: WithdrawalRow): z.output<typeof Withdrawal> => ({
  id: w.id,
  status: w.status,
  amount_minor: w.amount_minor,
  fee_minor: w.fee_minor,
  net_minor: w.net_minor,
  currency: w.currency,
  reason: w.reason,
  created_at: w.created_at.toISOString(),
  updated_at: w.updated_at.toISOString(),
});

export const presentCreatedWithdrawal = (w: WithdrawalRow): z.output<typeof CreatedWithdrawal> => ({
  id: w.id,
  status: w.status,
  amount_minor: w.amount_minor,
  fee_minor: w.fee_minor,
  net_minor: w.net_minor,
  currency: w.currency,
});

export const AdminWithdrawal = z
  .object({
    // Admins read minor units only: the legacy decimals are for the old user-facing clients.
    ...Withdrawal.omit({ amount: true, fee: true, net: true }).shape,
    user_id: z.string(),
    connected_account_id: z.string().nullable(),
    transfer_id: z.string().nullable(),
    payout_id: z.string().nullable(),
    last_error: z.string().nullable(),
    decided_by: z.string().nullable(),
    decided_at: timestamp.nullable(),
  })
  .meta({ id: "AdminWithdrawal" });

/** What admins see: the user's fields plus the Stripe references and the decision. */
export const presentWithdrawalForAdmin = (w: WithdrawalRow): z.output<typeof AdminWithdrawal> => ({
  ...presentWithdrawal(w),
  user_id: w.user_id,
  connected_account_id: w.connected_account_id,
  transfer_id: w.transfer_id,
  payout_id: w.payout_id,
  last_error: w.last_error,
  decided_by: w.decided_by,
  decided_at: w.decided_at?.toISOString() ?? null,
});

export const ConnectedAccount = z
  .object({
    account_id: z.string(),
    charges_enabled: z.boolean(),
    payouts_enabled: z.boolean().meta({ description: "Withdrawals need it" }),
    requirements_due: z
      .array(z.string())
      .meta({ description: "What Stripe still needs, as Stripe names it" }),
  })
  .meta({ id: "ConnectedAccount" });

export const Onboarding = z.object({
  account_id: z.string(),
  onboarding_url: z.url().meta({ description: "A fresh, single-use Stripe account link" }),
});

export const BankSession = z.object({
  session_id: z.string().meta({ description: "The Financial Connections session (`fcsess_…`)" }),
  client_secret: z.string().meta({ description: "For Stripe.js collectFinancialConnectionsAccounts" }),
});

export const BankAccount = z
  .object({
    id: z.string().meta({ description: "Coffer's id of the row" }),
    external_account_id: z.string().meta({ description: "Stripe's external account (`ba_…`)" }),
    financial_connections_account_id: z
      .string()
      .nullable()
      .meta({ description: "The Financial Connections account (`fca_…`) it was attached from (Custom)" }),
    last4: z.string().nullable(),
    bank_name: z.string().nullable(),
    currency: z.string().nullable(),
    status: z
      .string()
      .meta({ description: "Stripe's: `new`, `errored` (a payout bounced), `verification_failed`, …" }),
    default_for_currency: z.boolean().meta({ description: "Payouts in its currency go here" }),
    created_at: timestamp,
  })
  .meta({ id: "BankAccount" });
