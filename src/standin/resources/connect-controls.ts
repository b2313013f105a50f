import { z } from "zod";
import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { resourceMissing } from "../errors.js";
import { PLATFORM } from "../state.js";
import { enableAccount, externalAccountProvided, requireInformation } from "./account-flow.js";
import {
  attachExternalAccount,
  bankAccountObject,
  changeExternalAccount,
  defaultExternalAccount,
  findExternalAccount,
  removeExternalAccount,
} from "./external-account-flow.js";
import { linkBankAccount } from "./financial-connections.js";
import type { LifecycleControl } from "./lifecycle-controls.js";
import { PAYOUT_FAILURE_CODES, failPayout, markPayoutPaid } from "./payout-flow.js";
import { reverseTransfer } from "./transfer-flow.js";

// Declared through this helper so each entry's body type is checked against its schema.
function control<T>(c: LifecycleControl<T>): LifecycleControl<unknown> {
  return c as LifecycleControl<unknown>;
}

const EXTERNAL_STATUSES = [
  "new",
  "errored",
  "verification_failed",
  "tokenized_account_number_deactivated",
] as const;

function externalAccount(account: Stripe.Account, id: string): Stripe.ExternalAccount {
  const found = findExternalAccount(account, id);
  if (!found) throw resourceMissing("external account", id);
  return found;
}

/**
 * The account holder adds a bank account in Stripe's Express dashboard (or onboarding). With
 * `replace`, the one it replaces as default for the currency is removed afterwards, as the
 * dashboard's "replace bank account" does.
 */
function addFromDashboard(ctx: ApiContext, account: Stripe.Account, body: DashboardBank): object {
  const currency = body.currency ?? account.default_currency ?? "usd";
  const replaced = body.replace ? defaultExternalAccount(account, currency) : undefined;
  const bank = bankAccountObject({
    bankName: body.bank_name ?? "STRIPE TEST BANK",
    last4: body.last4 ?? "6789",
    currency,
    country: account.country ?? "US",
  });
  attachExternalAccount(ctx, account, bank, { defaultForCurrency: body.default_for_currency ?? true });
  if (replaced) removeExternalAccount(ctx, account, replaced);
  externalAccountProvided(ctx, account);
  return bank;
}

interface DashboardBank {
  bank_name?: string | undefined;
  last4?: string | undefined;
  currency?: string | undefined;
  default_for_currency?: boolean | undefined;
  replace?: boolean | undefined;
}

/**
 * Stripe's side of Connect, which no API call triggers: Stripe verifying or questioning a connected
 * account, the bank paying or bouncing a payout, a reversal from the Dashboard, a user picking a
 * bank account in Financial Connections.
 */
export const CONNECT_CONTROLS: readonly LifecycleControl<unknown>[] = [
  control({
    pattern: /^POST \/_standin\/accounts\/([^/]+)\/enable$/,
    schema: z.strictObject({
      payouts_enabled: z.boolean().optional(),
      charges_enabled: z.boolean().optional(),
    }),
    actAsAccount: true,
    act: (ctx, id, body) => enableAccount(ctx, ctx.store.require(PLATFORM, "account", id), body),
  }),
  control({
    pattern: /^POST \/_standin\/accounts\/([^/]+)\/require$/,
    schema: z.strictObject({ currently_due: z.array(z.string().min(1)).min(1) }),
    actAsAccount: true,
    act: (ctx, id, body) =>
      requireInformation(ctx, ctx.store.require(PLATFORM, "account", id), body.currently_due),
  }),
  control({
    // Where account links point. JSON, as every control answers; it only says what to call next.
    pattern: /^GET \/_standin\/onboarding\/([^/]+)$/,
    schema: z.strictObject({}),
    actAsAccount: true,
    act: (ctx, id) => {
      const account = ctx.store.require(PLATFORM, "account", id);
      return {
        object: "standin.onboarding",
        account: account.id,
        details_submitted: account.details_submitted,
        message:
          "Onboarding is simulated by the Stripe stand-in. To finish it, " +
          `POST /_standin/accounts/${account.id}/enable (body {payouts_enabled?, charges_enabled?}).`,
      };
    },
  }),
  control({
    pattern: /^POST \/_standin\/accounts\/([^/]+)\/external_accounts$/,
    schema: z.strictObject({
      bank_name: z.string().min(1).max(100).optional(),
      last4: z
        .string()
        .regex(/^\d{4}$/)
        .optional(),
      currency: z
        .string()
        .regex(/^[a-z]{3}$/)
        .optional(),
      default_for_currency: z.boolean().optional(),
      replace: z.boolean().optional(),
    }),
    actAsAccount: true,
    act: (ctx, id, body) => addFromDashboard(ctx, ctx.store.require(PLATFORM, "account", id), body),
  }),
  control({
    // The bank or Stripe changes a bank account's status; the holder makes one the default.
    pattern: /^POST \/_standin\/accounts\/([^/]+)\/external_accounts\/update$/,
    schema: z.strictObject({
      id: z.string().min(1),
      status: z.enum(EXTERNAL_STATUSES).optional(),
      default_for_currency: z.literal(true).optional(),
    }),
    actAsAccount: true,
    act: (ctx, id, body) => {
      const account = ctx.store.require(PLATFORM, "account", id);
      return changeExternalAccount(ctx, account, externalAccount(account, body.id), {
        status: body.status,
        defaultForCurrency: body.default_for_currency,
      });
    },
  }),
  control({
    pattern: /^POST \/_standin\/accounts\/([^/]+)\/external_accounts\/delete$/,
    schema: z.strictObject({ id: z.string().min(1) }),
    actAsAccount: true,
    act: (ctx, id, body) => {
      const account = ctx.store.require(PLATFORM, "account", id);
      return removeExternalAccount(ctx, account, externalAccount(account, body.id));
    },
  }),
  control({
    pattern: /^POST \/_standin\/payouts\/([^/]+)\/paid$/,
    schema: z.strictObject({}),
    act: (ctx, id) => markPayoutPaid(ctx, ctx.store.require(ctx.scope, "payout", id)),
  }),
  control({
    pattern: /^POST \/_standin\/payouts\/([^/]+)\/fail$/,
    schema: z.strictObject({ failure_code: z.enum(PAYOUT_FAILURE_CODES).optional() }),
    act: (ctx, id, body) =>
      failPayout(ctx, ctx.store.require(ctx.scope, "payout", id), body.failure_code ?? "account_closed"),
  }),
  control({
    pattern: /^POST \/_standin\/transfers\/([^/]+)\/reverse$/,
    schema: z.strictObject({ allow_negative: z.boolean().optional() }),
    act: (ctx, id, body) =>
      reverseTransfer(ctx, ctx.store.require(ctx.scope, "transfer", id), {
        allowNegative: body.allow_negative,
      }),
  }),
  control({
    pattern: /^POST \/_standin\/financial_connections\/sessions\/([^/]+)\/link$/,
    schema: z.strictObject({
      institution_name: z.string().min(1).max(100).optional(),
      last4: z
        .string()
        .regex(/^\d{4}$/)
        .optional(),
    }),
    act: (ctx, id, body) =>
      linkBankAccount(ctx, ctx.store.require(ctx.scope, "financial_connections.session", id), body),
  }),
];
