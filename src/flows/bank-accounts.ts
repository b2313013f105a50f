import type Stripe from "stripe";
import {
  applyExternalAccount,
  listUserBankAccounts,
  markExternalAccountDeleted,
  markMissingDeleted,
  recordBankSession,
  upsertLinkedBank,
} from "../db/stores/bank-accounts.js";
import {
  getConnectedAccount,
  getConnectedAccountById,
  lockConnectedAccount,
} from "../db/stores/connected-accounts.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import { attachLinkedBank, externalAccountState } from "./bank-attach.js";
import type { FlowDeps } from "./deps.js";

/**
 * Terminology
 * - external account: a connected account's bank account (`ba_…`) at Stripe. Payouts go to the
 *   default one for their currency, and nowhere else.
 * - link: a Financial Connections account (`fca_…`), the bank the user picked in Stripe's modal.
 *   It receives nothing until it becomes an external account.
 *
 * Express accounts (SPEC → Bank accounts): Stripe collects the external account in onboarding and
 * the holder changes it in Stripe's Express dashboard; Coffer mirrors it. Custom accounts: Coffer
 * links the bank with Financial Connections and attaches it (bank-attach.ts). Either way
 * `user_bank_accounts` keeps Stripe's references only, never account or routing numbers.
 */

export async function createBankSession(
  deps: FlowDeps,
  userId: string,
): Promise<{ session_id: string; client_secret: string }> {
  const account = await getConnectedAccount(deps.db, userId);
  if (!account)
    throw new DomainError(
      "connect_account_required",
      "create a connected account (POST /v1/connect/account) first",
    );
  if (account.account_type === "express") {
    throw new DomainError(
      "bank_managed_by_stripe",
      "Stripe collects this account's bank account: add it in the account_onboarding link that " +
        "POST /v1/connect/account returns, and change it in Stripe's Express dashboard. Payouts " +
        "go only to the bank account Stripe holds, so Coffer does not link one here.",
    );
  }
  // Stripe's Connect-payouts integration: a session held by the connected account, with the
  // payment_method permission, yields a bank-account token once the user links a bank.
  const session = await deps.stripe.financialConnections.sessions.create({
    account_holder: { type: "account", account: account.account_id },
    permissions: ["payment_method"],
    filters: { country: "US" },
  });
  await recordBankSession(deps.db, { id: session.id, userId, connectedAccountId: account.account_id });
  return { session_id: session.id, client_secret: session.client_secret ?? "" };
}

function holderAccount(fca: Stripe.FinancialConnections.Account): string | undefined {
  const holder = fca.account_holder;
  if (holder?.type !== "account") return undefined;
  return typeof holder.account === "string" ? holder.account : holder.account?.id;
}

/**
 * `financial_connections.account.created`: record the link for the user whose connected account
 * holds it and, for a Custom account, make it the account's external account so payouts go there.
 */
export async function syncBankAccount(deps: FlowDeps, fcaId: string): Promise<string> {
  const fca = await deps.stripe.financialConnections.accounts.retrieve(fcaId);
  const accountId = holderAccount(fca);
  if (!accountId) return "not_held_by_a_connected_account";
  const owner = await getConnectedAccountById(deps.db, accountId);
  if (!owner) return "unknown_connected_account";
  const row = await upsertLinkedBank(deps.db, {
    userId: owner.user_id,
    connectedAccountId: accountId,
    financialConnectionsAccountId: fca.id,
    last4: fca.last4 ?? null,
    bankName: fca.institution_name,
    status: fca.status,
  });
  // A link from before Express users were refused sessions: kept as a reference, never a payout
  // destination, since Stripe will not let the platform change an Express account's bank.
  if (owner.account_type !== "custom") return "linked_not_attached_express";
  if (row.external_account_id) return "bank_account_already_attached";
  if (fca.status !== "active") return `bank_link_${fca.status}`;
  return attachLinkedBank(deps, { userId: owner.user_id, accountId, fca });
}

/**
 * `account.external_account.created|updated|deleted` (Connect events on the account): the snapshot
 * is applied only if it is at least as new as the stored state (SPEC → Order). A deleted external
 * account is marked deleted and loses its default, rather than lingering as where payouts go.
 * When the stored state is as old as the event and disagrees, Stripe is asked (one read).
 */
export async function syncExternalAccount(
  deps: FlowDeps,
  cmd: {
    accountId: string;
    externalAccount: Stripe.BankAccount | Stripe.Card;
    deleted: boolean;
    eventCreated: number;
  },
  ev: { eventId: string; log: FlowDeps["log"] },
): Promise<string> {
  const bank = cmd.externalAccount;
  if (bank.object !== "bank_account") return "card_external_account_ignored";
  const outcome = await withTransaction(deps.db, async (trx) => {
    const owner = await lockConnectedAccount(trx, cmd.accountId);
    if (!owner) return "unknown_connected_account";
    const state = externalAccountState(owner.user_id, cmd.accountId, bank, cmd.eventCreated);
    if (!cmd.deleted) return `external_account_${await applyExternalAccount(trx, state)}`;
    const deleted = await markExternalAccountDeleted(trx, state);
    if (deleted.wasDefault) {
      ev.log.warn(
        { event_id: ev.eventId, account_id: cmd.accountId, currency: bank.currency, user_id: owner.user_id },
        "the default external account for a currency was deleted: payouts in it fail until another is the default",
      );
    }
    return `external_account_deleted_${deleted.outcome}`;
  });
  if (outcome !== "external_account_ambiguous") return outcome;
  const account = await deps.stripe.accounts.retrieve(cmd.accountId);
  return `refetched: ${await mirrorExternalAccounts(deps, account, cmd.eventCreated)}`;
}

/**
 * The account as Stripe has it now (re-fetched on `account.updated`, or to settle a tie): its
 * `external_accounts` list, which Stripe includes on the Account for the controlling platform, is
 * mirrored whole; only when it has more than one page is the list endpoint read. A stored one
 * missing from it was deleted at Stripe. `asOf` is the triggering event's `created`: the fetched
 * state is at least that new, and a row touched by a newer event is left to that event.
 */
export async function mirrorExternalAccounts(
  deps: FlowDeps,
  account: Stripe.Account,
  asOf: number,
): Promise<string> {
  const list = account.external_accounts;
  if (!list) return "external_accounts_not_shown"; // not the controller: nothing to mirror
  const all = list.has_more
    ? await deps.stripe.accounts
        .listExternalAccounts(account.id, { object: "bank_account", limit: 100 })
        .autoPagingToArray({ limit: 10_000 })
    : list.data;
  const banks = all.filter((x): x is Stripe.BankAccount => x.object === "bank_account");
  return withTransaction(deps.db, async (trx) => {
    const owner = await lockConnectedAccount(trx, account.id);
    if (!owner) return "unknown_connected_account";
    for (const bank of banks) {
      const state = externalAccountState(owner.user_id, account.id, bank, asOf);
      await applyExternalAccount(trx, state, { fetched: true });
    }
    const ids = banks.map((b) => b.id);
    const gone = await markMissingDeleted(trx, account.id, ids, asOf);
    return `external_accounts_mirrored_${banks.length}${gone > 0 ? `_deleted_${gone}` : ""}`;
  });
}

export async function listBankAccounts(deps: FlowDeps, userId: string) {
  const rows = await listUserBankAccounts(deps.db, userId);
  return rows.map((r) => ({
    id: r.id,
    external_account_id: r.external_account_id,
    financial_connections_account_id: r.financial_connections_account_id,
    last4: r.last4,
    bank_name: r.bank_name,
    currency: r.currency,
    status: r.status,
    default_for_currency: r.default_for_currency,
    created_at: r.created_at.toISOString(),
  }));
}
