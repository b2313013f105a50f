import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { newId, randomBase62 } from "../ids.js";
import { requirements } from "./accounts.js";

/** The account fields that onboarding changes, and so what account.updated reports as previous. */
const TRACKED = [
  "charges_enabled",
  "payouts_enabled",
  "details_submitted",
  "requirements",
  "capabilities",
  "external_accounts",
] as const;

type Snapshot = Record<(typeof TRACKED)[number], string>;

function snapshot(account: Stripe.Account): Snapshot {
  const out = {} as Snapshot;
  for (const key of TRACKED) out[key] = JSON.stringify(account[key] ?? null);
  return out;
}

/** Stripe sends account.updated only when something changed, with the old values of what did. */
function emitIfChanged(ctx: ApiContext, account: Stripe.Account, before: Snapshot): void {
  const after = snapshot(account);
  const previous: Record<string, unknown> = {};
  for (const key of TRACKED) {
    if (before[key] !== after[key]) previous[key] = JSON.parse(before[key]) as unknown;
  }
  if (Object.keys(previous).length > 0) ctx.emit("account.updated", account, previous);
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

/**
 * The bank account onboarding collects, where payouts go. Its routing number is left null: the
 * stand-in hands out no bank numbers anywhere, so none can leak into Coffer's stored events.
 */
function addBankAccount(account: Stripe.Account): void {
  const list = account.external_accounts;
  if (!list || list.data.length > 0) return;
  list.data.push({
    id: newId("ba"),
    object: "bank_account",
    account: account.id,
    account_holder_name: null,
    account_holder_type: "individual",
    account_type: null,
    available_payout_methods: ["standard"],
    bank_name: "STRIPE TEST BANK",
    country: account.country ?? "US",
    currency: account.default_currency ?? "usd",
    default_for_currency: true,
    fingerprint: randomBase62(16),
    last4: "6789",
    metadata: {},
    routing_number: null,
    status: "new",
  });
}

/** Where this account's payouts go: the bank account onboarding added. */
export function payoutDestination(account: Stripe.Account): string | undefined {
  return account.external_accounts?.data[0]?.id;
}

export interface EnableInput {
  payouts_enabled?: boolean | undefined;
  charges_enabled?: boolean | undefined;
}

/** The user finished onboarding and Stripe verified them. */
export function enableAccount(ctx: ApiContext, account: Stripe.Account, input: EnableInput): Stripe.Account {
  const before = snapshot(account);
  account.details_submitted = true;
  account.payouts_enabled = input.payouts_enabled ?? true;
  account.charges_enabled = input.charges_enabled ?? true;
  account.requirements = requirements([]);
  if (account.payouts_enabled) addBankAccount(account);
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
