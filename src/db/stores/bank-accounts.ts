import { newId } from "../../ids.js";
import type { Tx } from "../knex.js";

/**
 * `user_bank_accounts`: Stripe's references to a user's bank accounts, never their numbers. A row
 * is a connected account's external account (`ba_…`, where payouts go), a Financial Connections
 * link (`fca_…`), or both once Coffer attached the link (custom accounts).
 *
 * Writes about a connected account's external accounts run under lockConnectedAccount, so this
 * store can read-then-write: no two writers decide one account's defaults at once.
 */
export interface BankAccountRow {
  id: string;
  user_id: string;
  connected_account_id: string | null;
  external_account_id: string | null;
  financial_connections_account_id: string | null;
  last4: string | null;
  bank_name: string | null;
  currency: string | null;
  status: string;
  default_for_currency: boolean;
  stripe_updated: number;
  created_at: Date;
  updated_at: Date;
}

/** Coffer's own status for an external account Stripe deleted; final, as ids are never reused. */
export const DELETED = "deleted";

/** One external account as a Stripe event or object shows it. */
export interface ExternalAccountState {
  userId: string;
  connectedAccountId: string;
  externalAccountId: string;
  /** The fca_ it was made from, when Coffer attached it (its metadata says so). */
  financialConnectionsAccountId: string | null;
  last4: string | null;
  bankName: string | null;
  currency: string;
  status: string;
  defaultForCurrency: boolean;
  /** `created` of the event (or of the event that led to the fetch) this state comes from. */
  asOf: number;
}

/**
 * `ambiguous`: the stored state is exactly as old (Stripe's `created` has one-second resolution)
 * and says otherwise, so which came last cannot be told; the caller re-fetches and applies that.
 */
export type ApplyOutcome = "applied" | "stale" | "already_deleted" | "ambiguous";

export interface DeleteOutcome {
  outcome: ApplyOutcome;
  /** It was the default for its currency: payouts in that currency now have nowhere to go. */
  wasDefault: boolean;
}

async function findRow(trx: Tx, externalId: string, fcaId: string | null, connectedAccountId: string) {
  const q = trx<BankAccountRow>("user_bank_accounts").where({ external_account_id: externalId });
  // Only a link row of the user who owns this connected account: metadata naming another user's
  // link must not take that user's row over.
  if (fcaId !== null)
    q.orWhere((w) =>
      w
        .where({ financial_connections_account_id: fcaId })
        .whereIn(
          "user_id",
          trx("stripe_connected_accounts").where({ account_id: connectedAccountId }).select("user_id"),
        ),
    );
  // The row of this external account itself, before a link row not yet attached.
  return q.orderByRaw("(external_account_id = ?) DESC NULLS LAST", [externalId]).first();
}

const sameAs = (row: BankAccountRow, s: ExternalAccountState) =>
  row.status === s.status &&
  row.default_for_currency === s.defaultForCurrency &&
  row.currency === s.currency &&
  row.last4 === s.last4 &&
  row.bank_name === s.bankName;

/**
 * Mirrors one external account, only from state at least as new as what is stored. It is the
 * default for its currency only if no sibling became the default more recently: Stripe keeps one
 * default per currency, and the newest word on it wins whatever order the events come in.
 * `fetched` state is Stripe's answer of now: it wins ties, and is never ambiguous.
 */
export async function applyExternalAccount(
  trx: Tx,
  s: ExternalAccountState,
  opts: { fetched?: boolean } = {},
): Promise<ApplyOutcome> {
  const row = await findRow(trx, s.externalAccountId, s.financialConnectionsAccountId, s.connectedAccountId);
  const own = row?.external_account_id === s.externalAccountId ? row : undefined;
  if (own?.status === DELETED) return "already_deleted";
  if (own && own.stripe_updated > s.asOf) return "stale";
  if (own && own.stripe_updated === s.asOf && !opts.fetched && !sameAs(own, s)) return "ambiguous";
  const siblings = trx<BankAccountRow>("user_bank_accounts")
    .where({ connected_account_id: s.connectedAccountId, currency: s.currency, default_for_currency: true })
    .whereNot({ external_account_id: s.externalAccountId });
  if (s.defaultForCurrency && !opts.fetched) {
    const tied = await siblings.clone().where("stripe_updated", "=", s.asOf).first("id");
    if (tied) return "ambiguous";
  }
  const newerDefault = await siblings.clone().where("stripe_updated", ">", s.asOf).first("id");
  const isDefault = s.defaultForCurrency && !newerDefault;
  if (isDefault) await siblings.clone().update({ default_for_currency: false, updated_at: trx.fn.now() });
  const fields = {
    connected_account_id: s.connectedAccountId,
    external_account_id: s.externalAccountId,
    last4: s.last4,
    bank_name: s.bankName,
    currency: s.currency,
    status: s.status,
    default_for_currency: isDefault,
    stripe_updated: s.asOf,
  };
  if (row) {
    await trx("user_bank_accounts")
      .where({ id: row.id })
      .update({ ...fields, updated_at: trx.fn.now() });
  } else {
    await trx("user_bank_accounts").insert({
      id: newId("ba"),
      user_id: s.userId,
      financial_connections_account_id: s.financialConnectionsAccountId,
      ...fields,
    });
  }
  return "applied";
}

/**
 * Stripe deleted the external account: the row is marked, and it stops being anyone's default.
 * One never seen before is recorded as deleted too, so its late `created` event changes nothing.
 */
export async function markExternalAccountDeleted(trx: Tx, s: ExternalAccountState): Promise<DeleteOutcome> {
  const row = await findRow(trx, s.externalAccountId, s.financialConnectionsAccountId, s.connectedAccountId);
  if (row?.status === DELETED) return { outcome: "already_deleted", wasDefault: false };
  const gone = {
    status: DELETED,
    default_for_currency: false,
    stripe_updated: Math.max(s.asOf, row?.stripe_updated ?? 0),
  };
  if (row) {
    await trx("user_bank_accounts")
      .where({ id: row.id })
      .update({ ...gone, external_account_id: s.externalAccountId, updated_at: trx.fn.now() });
  } else {
    await trx("user_bank_accounts").insert({
      id: newId("ba"),
      user_id: s.userId,
      connected_account_id: s.connectedAccountId,
      external_account_id: s.externalAccountId,
      financial_connections_account_id: s.financialConnectionsAccountId,
      last4: s.last4,
      bank_name: s.bankName,
      currency: s.currency,
      ...gone,
    });
  }
  return { outcome: "applied", wasDefault: row?.default_for_currency === true };
}

/**
 * The account as fetched lists every external account it has now: a stored one it does not list,
 * and that no event newer than the fetch's trigger has touched, was deleted at Stripe.
 */
export async function markMissingDeleted(
  trx: Tx,
  connectedAccountId: string,
  presentIds: readonly string[],
  asOf: number,
): Promise<number> {
  return trx("user_bank_accounts")
    .where({ connected_account_id: connectedAccountId })
    .whereNotNull("external_account_id")
    .whereNotIn("external_account_id", [...presentIds])
    .whereNot({ status: DELETED })
    .where("stripe_updated", "<=", asOf)
    .update({ status: DELETED, default_for_currency: false, stripe_updated: asOf, updated_at: trx.fn.now() });
}

/** A Financial Connections link, recorded (or refreshed) before it is attached anywhere. */
export async function upsertLinkedBank(
  trx: Tx,
  l: {
    userId: string;
    connectedAccountId: string;
    financialConnectionsAccountId: string;
    last4: string | null;
    bankName: string | null;
    status: string;
  },
): Promise<BankAccountRow> {
  const fields = { last4: l.last4, bank_name: l.bankName };
  const [row] = await trx<BankAccountRow>("user_bank_accounts")
    .insert({
      id: newId("ba"),
      user_id: l.userId,
      connected_account_id: l.connectedAccountId,
      financial_connections_account_id: l.financialConnectionsAccountId,
      status: l.status,
      ...fields,
    })
    .onConflict("financial_connections_account_id")
    // Once attached, the row's status is the external account's, which is what payouts use.
    .merge({
      ...fields,
      status: trx.raw(
        "CASE WHEN user_bank_accounts.external_account_id IS NULL THEN ? ELSE user_bank_accounts.status END",
        [l.status],
      ),
      updated_at: trx.fn.now(),
    })
    .returning("*");
  return row!;
}

export async function recordBankSession(
  trx: Tx,
  s: { id: string; userId: string; connectedAccountId: string },
): Promise<void> {
  await trx("bank_account_sessions")
    .insert({ id: s.id, user_id: s.userId, connected_account_id: s.connectedAccountId })
    .onConflict("id")
    .ignore();
}

/** The account's Financial Connections sessions, newest first: where a new link's token is. */
export async function recentBankSessions(
  trx: Tx,
  connectedAccountId: string,
  limit: number,
): Promise<string[]> {
  return trx("bank_account_sessions")
    .where({ connected_account_id: connectedAccountId })
    .orderBy([
      { column: "created_at", order: "desc" },
      { column: "id", order: "desc" },
    ])
    .limit(limit)
    .pluck("id");
}

/**
 * What the user sees: the external accounts their connected account has now, where payouts can
 * go. Deleted ones are kept but not shown, and so are Financial Connections links that are not
 * (or not yet) an external account: an Express user's old link never receives a payout.
 */
export async function listUserBankAccounts(trx: Tx, userId: string): Promise<BankAccountRow[]> {
  return trx<BankAccountRow>("user_bank_accounts")
    .where({ user_id: userId })
    .whereNotNull("external_account_id")
    .whereNot({ status: DELETED })
    .orderBy("created_at", "desc")
    .orderBy("id", "desc");
}
