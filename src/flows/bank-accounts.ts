import { getConnectedAccount } from "../db/stores/connected-accounts.js";
import { DomainError } from "../ledger/errors.js";
import { newId } from "../ids.js";
import type { FlowDeps } from "./deps.js";

/**
 * Bank accounts are linked through Stripe Financial Connections, held by the
 * user's connected account. Coffer keeps only Stripe's references (the fca_
 * id, last4, bank name, status): account and routing numbers never reach it.
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
  const session = await deps.stripe.financialConnections.sessions.create({
    account_holder: { type: "account", account: account.account_id },
    permissions: ["payment_method"],
  });
  return { session_id: session.id, client_secret: session.client_secret ?? "" };
}

/** `financial_connections.account.created`: record the link for the user whose connected account holds it. */
export async function syncBankAccount(deps: FlowDeps, fcaId: string): Promise<string> {
  const fca = await deps.stripe.financialConnections.accounts.retrieve(fcaId);
  const holder = fca.account_holder;
  const accountId =
    holder?.type === "account"
      ? typeof holder.account === "string"
        ? holder.account
        : holder.account?.id
      : undefined;
  if (!accountId) return "not_held_by_a_connected_account";
  const owner = await deps.db("stripe_connected_accounts").where({ account_id: accountId }).first("user_id");
  if (!owner) return "unknown_connected_account";
  await deps
    .db("user_bank_accounts")
    .insert({
      id: newId("ba"),
      user_id: owner.user_id as string,
      financial_connections_account_id: fca.id,
      last4: fca.last4 ?? null,
      bank_name: fca.institution_name,
      status: fca.status,
    })
    .onConflict("financial_connections_account_id")
    .merge({
      last4: fca.last4 ?? null,
      bank_name: fca.institution_name,
      status: fca.status,
      updated_at: deps.db.fn.now(),
    });
  return "bank_account_linked";
}

export async function listBankAccounts(deps: FlowDeps, userId: string) {
  const rows = await deps
    .db("user_bank_accounts")
    .where({ user_id: userId })
    .orderBy("id", "desc")
    .select("id", "financial_connections_account_id", "last4", "bank_name", "status", "created_at");
  return rows.map((r) => ({ ...r, created_at: (r.created_at as Date).toISOString() }));
}
