import Stripe from "stripe";
import {
  applyExternalAccount,
  recentBankSessions,
  type ExternalAccountState,
} from "../db/stores/bank-accounts.js";
import { lockConnectedAccount } from "../db/stores/connected-accounts.js";
import { withTransaction } from "../db/transaction.js";
import { DomainError } from "../ledger/errors.js";
import type { FlowDeps } from "./deps.js";

/**
 * Custom accounts (CONNECT_ACCOUNT_TYPE=custom): the bank the user linked with Financial
 * Connections becomes the connected account's external account, the default for its currency,
 * so it is where the payout goes. Stripe's Connect-payouts integration does it with the
 * single-use bank-account token it puts on the session (`bank_account_token`, the one stripe.js
 * `collectBankAccountToken` hands the browser), given to `POST /v1/accounts/:id/external_accounts`.
 */

/** The metadata key naming the fca_ an external account was made from, so its events find its row. */
export const FCA_METADATA = "financial_connections_account";

// A link arrives minutes after its session is opened; a few recent sessions always hold it.
const SESSIONS_SEARCHED = 3;

/** A Stripe external account as the store mirrors it. */
export function externalAccountState(
  userId: string,
  accountId: string,
  bank: Stripe.BankAccount,
  asOf: number,
): ExternalAccountState {
  const fca = bank.metadata?.[FCA_METADATA];
  return {
    userId,
    connectedAccountId: accountId,
    externalAccountId: bank.id,
    financialConnectionsAccountId: typeof fca === "string" && fca.startsWith("fca_") ? fca : null,
    last4: bank.last4,
    bankName: bank.bank_name,
    currency: bank.currency,
    status: bank.status,
    defaultForCurrency: bank.default_for_currency === true,
    asOf,
  };
}

/** An fca_ does not name its session: the account's recent sessions are read until one lists it. */
async function sessionToken(deps: FlowDeps, accountId: string, fcaId: string): Promise<string> {
  for (const id of await recentBankSessions(deps.db, accountId, SESSIONS_SEARCHED)) {
    const session = await deps.stripe.financialConnections.sessions.retrieve(id);
    if (!session.accounts.data.some((a) => a.id === fcaId)) continue;
    const token = session.bank_account_token?.id;
    if (token) return token;
    break;
  }
  throw new DomainError(
    "bank_token_missing",
    `no Financial Connections session of ${accountId} holds a bank-account token for ${fcaId}`,
  );
}

/**
 * The token is single-use and Stripe keeps idempotency keys for 24 hours: a retry after that finds
 * the token used, and then the external account it made, by the metadata Coffer put on it.
 */
async function createFromToken(
  deps: FlowDeps,
  accountId: string,
  fcaId: string,
): Promise<Stripe.BankAccount> {
  const token = await sessionToken(deps, accountId, fcaId);
  try {
    const made = await deps.stripe.accounts.createExternalAccount(
      accountId,
      { external_account: token, default_for_currency: true, metadata: { [FCA_METADATA]: fcaId } },
      // The fca_ is attached once, whoever retries: an id of Stripe's own, well under 255 characters.
      { idempotencyKey: `${fcaId}:external_account` },
    );
    if (made.object !== "bank_account")
      throw new DomainError("event_malformed", `${made.id} is not a bank account`);
    return made;
  } catch (err) {
    if (!(err instanceof Stripe.errors.StripeInvalidRequestError) || err.code !== "token_already_used")
      throw err;
    const banks = deps.stripe.accounts.listExternalAccounts(accountId, {
      object: "bank_account",
      limit: 100,
    });
    for await (const bank of banks) {
      if (bank.object === "bank_account" && bank.metadata?.[FCA_METADATA] === fcaId) return bank;
    }
    throw err;
  }
}

export async function attachLinkedBank(
  deps: FlowDeps,
  link: { userId: string; accountId: string; fca: Stripe.FinancialConnections.Account },
): Promise<string> {
  const bank = await createFromToken(deps, link.accountId, link.fca.id);
  // Stripe's answer of now, stamped with the link's time: its events about it are no older.
  const state = externalAccountState(link.userId, link.accountId, bank, link.fca.created);
  return withTransaction(deps.db, async (trx) => {
    if (!(await lockConnectedAccount(trx, link.accountId))) return "unknown_connected_account";
    return `bank_account_attached_${await applyExternalAccount(trx, state, { fetched: true })}`;
  });
}
