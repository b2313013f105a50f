import type Stripe from "stripe";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../errors.js";
import { newId, randomBase62 } from "../ids.js";

/**
 * A connected account's external accounts: where its payouts go. They live in the account's own
 * `external_accounts` list (Stripe returns it on the Account object to the controlling platform),
 * and every change is reported with `account.external_account.*` as a Connect event on that
 * account, whoever caused it: the platform through the API, or the account holder in Stripe's
 * onboarding or Express dashboard.
 */

export interface BankInput {
  bankName: string;
  last4: string;
  currency: string;
  country: string;
}

/**
 * A bank account as Stripe shows it to the platform. The routing number is left null: the
 * stand-in hands out no bank numbers anywhere, so none can leak into Coffer's stored events.
 */
export function bankAccountObject(input: BankInput): Stripe.BankAccount {
  return {
    id: newId("ba"),
    object: "bank_account",
    account_holder_name: null,
    account_holder_type: "individual",
    account_type: null,
    available_payout_methods: ["standard"],
    bank_name: input.bankName,
    country: input.country,
    currency: input.currency,
    fingerprint: randomBase62(16),
    last4: input.last4,
    metadata: {},
    routing_number: null,
    status: "new",
  };
}

function listOf(account: Stripe.Account): Stripe.ExternalAccount[] {
  account.external_accounts ??= {
    object: "list",
    data: [],
    has_more: false,
    url: `/v1/accounts/${account.id}/external_accounts`,
  };
  return account.external_accounts.data;
}

export function bankAccountsOf(account: Stripe.Account): Stripe.BankAccount[] {
  return listOf(account).filter((x): x is Stripe.BankAccount => x.object === "bank_account");
}

export function findExternalAccount(account: Stripe.Account, id: string): Stripe.ExternalAccount | undefined {
  return listOf(account).find((x) => x.id === id);
}

/** Where a payout in `currency` goes when it names no destination, as Stripe picks it. */
export function defaultExternalAccount(
  account: Stripe.Account,
  currency: string,
): Stripe.ExternalAccount | undefined {
  return listOf(account).find((x) => x.currency === currency && x.default_for_currency === true);
}

const emitOn = (ctx: ApiContext, account: Stripe.Account) =>
  function emit(type: string, obj: object, previous?: Record<string, unknown>) {
    ctx.emit(type, obj, previous, account.id);
  };

/** Makes `bank` the default for its currency; the one it replaces says so with its own update. */
function takeDefault(ctx: ApiContext, account: Stripe.Account, bank: Stripe.ExternalAccount): void {
  for (const other of listOf(account)) {
    if (other === bank || other.currency !== bank.currency || other.default_for_currency !== true) continue;
    other.default_for_currency = false;
    emitOn(ctx, account)("account.external_account.updated", other, { default_for_currency: true });
  }
  bank.default_for_currency = true;
}

/**
 * Adds an external account. Stripe makes it the default for its currency when asked to, or when it
 * is the first in that currency; the event for it comes before the one for the replaced default.
 */
export function attachExternalAccount(
  ctx: ApiContext,
  account: Stripe.Account,
  bank: Stripe.BankAccount,
  opts: { defaultForCurrency?: boolean | undefined; metadata?: Record<string, string> } = {},
): Stripe.BankAccount {
  const firstInCurrency = !listOf(account).some((x) => x.currency === bank.currency);
  bank.account = account.id;
  bank.default_for_currency = false;
  if (opts.metadata) bank.metadata = opts.metadata;
  listOf(account).push(bank);
  const makeDefault = opts.defaultForCurrency === true || firstInCurrency;
  if (makeDefault) bank.default_for_currency = true;
  emitOn(ctx, account)("account.external_account.created", bank);
  if (makeDefault) takeDefault(ctx, account, bank);
  return bank;
}

export interface BankChanges {
  defaultForCurrency?: boolean | undefined;
  status?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

/** Applies changes; one `updated` event with the old values of what changed, none if nothing did. */
export function changeExternalAccount(
  ctx: ApiContext,
  account: Stripe.Account,
  bank: Stripe.ExternalAccount,
  changes: BankChanges,
): Stripe.ExternalAccount {
  const previous: Record<string, unknown> = {};
  if (changes.status !== undefined && bank.status !== changes.status) {
    previous.status = bank.status;
    bank.status = changes.status;
  }
  if (changes.metadata !== undefined && JSON.stringify(changes.metadata) !== JSON.stringify(bank.metadata)) {
    previous.metadata = bank.metadata;
    bank.metadata = changes.metadata;
  }
  const becomesDefault = changes.defaultForCurrency === true && bank.default_for_currency !== true;
  if (becomesDefault) previous.default_for_currency = false;
  if (becomesDefault) bank.default_for_currency = true;
  if (Object.keys(previous).length > 0) {
    emitOn(ctx, account)("account.external_account.updated", bank, previous);
  }
  if (becomesDefault) takeDefault(ctx, account, bank);
  return bank;
}

/**
 * Removes an external account. Stripe refuses to remove the default one of the account's default
 * currency, from the API and the dashboard alike: another must become the default first.
 */
export function removeExternalAccount(
  ctx: ApiContext,
  account: Stripe.Account,
  bank: Stripe.ExternalAccount,
): Stripe.DeletedBankAccount | Stripe.DeletedCard {
  if (bank.default_for_currency === true && bank.currency === account.default_currency) {
    throw invalidRequest(
      "You cannot delete the default bank account for your default currency. Please make another " +
        "bank account the default using the `default_for_currency` param, and then delete this one.",
    );
  }
  const list = listOf(account);
  list.splice(list.indexOf(bank), 1);
  emitOn(ctx, account)("account.external_account.deleted", bank);
  return bank.object === "bank_account"
    ? { id: bank.id, object: "bank_account", currency: bank.currency, deleted: true }
    : { id: bank.id, object: "card", currency: bank.currency, deleted: true };
}
