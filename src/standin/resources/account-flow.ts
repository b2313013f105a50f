import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { requirements } from "./accounts.js";
import { attachExternalAccount, bankAccountObject, bankAccountsOf } from "./external-account-flow.js";

/**
 * The account fields that onboarding changes, and so what account.updated reports as previous.
 * External accounts are not among them: Stripe reports those with `account.external_account.*`,
 * so a platform that only follows account.updated does not see a bank account change.
 */
const TRACKED = [
  "charges_enabled",
  "payouts_enabled",
  "details_submitted",
  "requirements",
  "capabilities",
] as const;

type Snapshot = Record<(typeof TRACKED)[number], string>;

function snapshot(account: Stripe.Account): Snapshot {
  const out = {} as Snapshot;
  for (const key of TRACKED) out[key] = JSON.stringify(account[key] ?? null);
  return out;
}

/**
 * Stripe sends account.updated only when something changed, with the old values of what did, as
 * a Connect event on the account even when the platform's own API call caused it.
 */
function emitIfChanged(ctx: ApiContext, account: Stripe.Account, before: Snapshot): void {
  const after = snapshot(account);
  const previous: Record<string, unknown> = {};
  for (const key of TRACKED) {
    if (before[key] !== after[key]) previous[key] = JSON.parse(before[key]) as unknown;
  }
  if (Object.keys(previous).length > 0) ctx.emit("account.updated", account, previous, account.id);
}

/**
 * Requested capabilities follow the account's state: transfers with payouts, card payments with
 * charges. Stripe keeps them apart; the stand-in ties them so one control drives both.
 */
function syncCapabilities(account: Stripe.Account): void {
  const caps = account.capabilities;
  if (caps?.transfers !== undefined) caps.transfers = account.payouts_enabled ? "active" : "inactive";
  if (caps?.card_payments !== undefined) caps.card_payments = account.charges_enabled ? "active" : "inactive";
}

/** Stripe collects the bank account in onboarding only where it collects the requirements (Express). */
const stripeCollects = (account: Stripe.Account) => account.controller?.requirement_collection === "stripe";

/** The bank account Express onboarding collects, where payouts go. */
function collectBankAccount(ctx: ApiContext, account: Stripe.Account): void {
  if (!stripeCollects(account) || bankAccountsOf(account).length > 0) return;
  const bank = bankAccountObject({
    bankName: "STRIPE TEST BANK",
    last4: "6789",
    currency: account.default_currency ?? "usd",
    country: account.country ?? "US",
  });
  attachExternalAccount(ctx, account, bank, { defaultForCurrency: true });
}

/**
 * Stripe enables payouts only with somewhere to send them: until the account has an external
 * account, `external_account` stays due. A Custom account's platform provides it through the API.
 */
function dueWithoutBank(account: Stripe.Account, due: string[]): string[] {
  const hasBank = (account.external_accounts?.data.length ?? 0) > 0;
  return hasBank ? due.filter((d) => d !== "external_account") : [...new Set([...due, "external_account"])];
}

/** An external account arrived (API or dashboard): what was due only for want of it is lifted. */
export function externalAccountProvided(ctx: ApiContext, account: Stripe.Account): void {
  const before = snapshot(account);
  const due = dueWithoutBank(account, account.requirements?.currently_due ?? []);
  account.requirements = requirements(due);
  if (due.length === 0 && account.details_submitted) account.payouts_enabled = true;
  syncCapabilities(account);
  emitIfChanged(ctx, account, before);
}

export interface EnableInput {
  payouts_enabled?: boolean | undefined;
  charges_enabled?: boolean | undefined;
}

/**
 * The user finished onboarding and Stripe verified them. Express onboarding collected a bank
 * account on the way (its event comes first); a Custom account's payouts stay off until its
 * platform attaches one.
 */
export function enableAccount(ctx: ApiContext, account: Stripe.Account, input: EnableInput): Stripe.Account {
  const before = snapshot(account);
  if (input.payouts_enabled ?? true) collectBankAccount(ctx, account);
  const due = dueWithoutBank(account, []);
  account.details_submitted = true;
  account.payouts_enabled = (input.payouts_enabled ?? true) && due.length === 0;
  account.charges_enabled = input.charges_enabled ?? true;
  account.requirements = requirements(due);
  syncCapabilities(account);
  emitIfChanged(ctx, account, before);
  return account;
}

/** Stripe wants more information (a document, a re-verified SSN); payouts stop until it has it. */
export function requireInformation(ctx: ApiContext, account: Stripe.Account, due: string[]): Stripe.Account {
  const before = snapshot(account);
  account.requirements = requirements(due);
  account.payouts_enabled = false;
  syncCapabilities(account);
  emitIfChanged(ctx, account, before);
  return account;
}
