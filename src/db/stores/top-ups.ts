import type { Tx } from "../knex.js";
import { prepared, type Statement } from "../prepared.js";

/**
 * `payment_transactions`: one row per top-up (and one per PaymentIntent Stripe
 * told us about that Coffer did not create, with no owner). Status only moves
 * forward: see PI_STATUS_RANK.
 */
export interface TopUpRow {
  id: string;
  user_id: string | null;
  purpose: "wallet_top_up" | "unrecognized";
  payment_intent_id: string | null;
  idempotency_key: string | null;
  amount_minor: number;
  currency: string;
  status: string;
  amount_received_minor: number;
  amount_capturable_minor: number;
  refunded_minor: number;
  fee_minor: number | null;
  charge_id: string | null;
  balance_transaction_id: string | null;
  /** Set when Stripe settled the charge in another currency (FX): the user side then goes through `fx`. */
  settlement_currency: string | null;
  livemode: boolean;
  event_id: string | null;
  client_secret: string | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * Stripe's PaymentIntent statuses in the order they can progress. `creating`
 * is ours: the row exists before Stripe has answered. `succeeded` and
 * `canceled` are final, so an older event can never move a row back.
 */
export const PI_STATUS_RANK: Readonly<Record<string, number>> = {
  creating: 0,
  requires_payment_method: 1,
  requires_confirmation: 2,
  requires_action: 3,
  processing: 4,
  requires_capture: 5,
  succeeded: 9,
  canceled: 9,
};

export async function insertCreating(
  trx: Tx,
  r: {
    id: string;
    userId: string;
    idempotencyKey: string;
    amountMinor: number;
    currency: string;
    livemode: boolean;
  },
): Promise<TopUpRow> {
  const { rows } = await trx.raw<{ rows: TopUpRow[] }>(
    `INSERT INTO payment_transactions (id, user_id, purpose, idempotency_key, amount_minor, currency, status, livemode)
     VALUES (?, ?, 'wallet_top_up', ?, ?, ?, 'creating', ?)
     ON CONFLICT (user_id, idempotency_key) DO UPDATE SET updated_at = payment_transactions.updated_at
     RETURNING *`,
    [r.id, r.userId, r.idempotencyKey, r.amountMinor, r.currency, r.livemode],
  );
  return rows[0]!;
}

export async function attachPaymentIntent(
  trx: Tx,
  id: string,
  pi: { id: string; status: string; clientSecret: string | null },
): Promise<TopUpRow> {
  // Never rebinds: a PaymentIntent a webhook already bound here (the only other writer) keeps it.
  const [row] = await trx<TopUpRow>("payment_transactions")
    .where({ id })
    .where((w) => w.whereNull("payment_intent_id").orWhere({ payment_intent_id: pi.id }))
    .update({
      payment_intent_id: pi.id,
      client_secret: pi.clientSecret,
      // A webhook may already have advanced the row; never move it back.
      status: trx.raw(`CASE WHEN status = 'creating' THEN ? ELSE status END`, [pi.status]),
      updated_at: trx.fn.now(),
    })
    .returning("*");
  return row ?? (await trx<TopUpRow>("payment_transactions").where({ id }).first())!;
}

export async function getTopUpForUser(trx: Tx, userId: string, id: string): Promise<TopUpRow | undefined> {
  return trx<TopUpRow>("payment_transactions").where({ id, user_id: userId }).first();
}

export async function listTopUps(
  trx: Tx,
  userId: string,
  page: { limit: number; startingAfter?: string },
): Promise<{ data: TopUpRow[]; hasMore: boolean }> {
  const q = trx<TopUpRow>("payment_transactions")
    .where({ user_id: userId, purpose: "wallet_top_up" })
    .orderBy("id", "desc")
    .limit(page.limit + 1);
  if (page.startingAfter !== undefined) q.where("id", "<", page.startingAfter);
  const rows = await q;
  return { data: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
}

export async function findByPaymentIntent(trx: Tx, piId: string): Promise<TopUpRow | undefined> {
  return trx<TopUpRow>("payment_transactions").where({ payment_intent_id: piId }).first();
}

export type PaymentIntentRow =
  | { kind: "found"; row: TopUpRow | undefined }
  /** The metadata names a top-up that another PaymentIntent already owns. */
  | { kind: "bound_elsewhere"; row: TopUpRow };

/**
 * Locks the row a PaymentIntent belongs to: by its id, or, before the top-up
 * route attached the id (Stripe answered but the write was lost), by the top-up
 * id in its metadata. The metadata only finds a row no PaymentIntent owns yet;
 * one bound to another PaymentIntent is reported, never rebound.
 */
export async function lockForPaymentIntent(
  trx: Tx,
  piId: string,
  topUpId: string | undefined,
): Promise<PaymentIntentRow> {
  // Prepared (src/db/prepared.ts): every credit runs these.
  const byPi = (await prepared<TopUpRow>(trx, LOCK_BY_PI, [piId])).rows[0];
  if (byPi || !topUpId) return { kind: "found", row: byPi };
  const named = (await prepared<TopUpRow>(trx, LOCK_NAMED_TOP_UP, [topUpId])).rows[0];
  if (named?.payment_intent_id && named.payment_intent_id !== piId) {
    return { kind: "bound_elsewhere", row: named };
  }
  return { kind: "found", row: named };
}

const LOCK_BY_PI: Statement = {
  name: "coffer_lock_top_up_by_pi",
  text: `SELECT * FROM payment_transactions WHERE payment_intent_id = $1 FOR UPDATE`,
};
const LOCK_NAMED_TOP_UP: Statement = {
  name: "coffer_lock_top_up_named",
  text: `SELECT * FROM payment_transactions WHERE id = $1 AND purpose = 'wallet_top_up' FOR UPDATE`,
};

/**
 * Locks the rows of many PaymentIntents at once, by PaymentIntent id or by the top-up id their
 * metadata names, in one order (the row id, C collation): a group commit (src/db/group-commit.ts)
 * takes these before any balance row, as every single-payment flow does, so that a batch and a
 * refund of one of its payments cannot wait on each other.
 */
export async function lockPaymentRows(
  trx: Tx,
  piIds: readonly string[],
  topUpIds: readonly string[],
): Promise<void> {
  await prepared(trx, LOCK_PAYMENT_ROWS, [piIds, topUpIds]);
}

const LOCK_PAYMENT_ROWS: Statement = {
  name: "coffer_lock_payment_rows",
  text: `SELECT 1 FROM payment_transactions
          WHERE payment_intent_id = ANY($1::text[]) OR id = ANY($2::text[])
          ORDER BY id COLLATE "C" FOR UPDATE`,
};

/** The row of a PaymentIntent already recorded, locked (refunds and disputes of a credited payment). */
export async function lockByPaymentIntent(trx: Tx, piId: string): Promise<TopUpRow | undefined> {
  return trx<TopUpRow>("payment_transactions").where({ payment_intent_id: piId }).forUpdate().first();
}

export async function insertUnrecognized(
  trx: Tx,
  r: {
    id: string;
    piId: string;
    amountMinor: number;
    currency: string;
    status: string;
    livemode: boolean;
    eventId: string;
  },
): Promise<void> {
  await trx.raw(
    `INSERT INTO payment_transactions (id, purpose, payment_intent_id, amount_minor, currency, status, livemode, event_id)
     VALUES (?, 'unrecognized', ?, ?, ?, ?, ?, ?) ON CONFLICT (payment_intent_id) DO NOTHING`,
    [r.id, r.piId, r.amountMinor, r.currency, r.status, r.livemode, r.eventId],
  );
}

export async function updateTopUp(trx: Tx, id: string, patch: Partial<TopUpRow>): Promise<void> {
  await trx("payment_transactions")
    .where({ id })
    .update({ ...patch, updated_at: trx.fn.now() });
}

/** A credited payment's row (the one update every credit makes), as a prepared statement. */
export async function recordSucceeded(
  trx: Tx,
  id: string,
  r: {
    paymentIntentId: string;
    amountReceivedMinor: number;
    chargeId: string | null;
    settlementCurrency: string | null;
    eventId: string;
  },
): Promise<void> {
  await prepared(trx, RECORD_SUCCEEDED, [
    id,
    r.paymentIntentId,
    r.amountReceivedMinor,
    r.chargeId,
    r.settlementCurrency,
    r.eventId,
  ]);
}

const RECORD_SUCCEEDED: Statement = {
  name: "coffer_top_up_succeeded",
  text: `UPDATE payment_transactions
            SET status = 'succeeded', payment_intent_id = $2, amount_received_minor = $3,
                amount_capturable_minor = 0, charge_id = $4, settlement_currency = $5, event_id = $6,
                updated_at = now()
          WHERE id = $1`,
};

/** Sum of uncaptured authorizations: the wallet's `pending_minor` memo. */
export async function capturableSum(trx: Tx, userId: string, currency: string): Promise<number> {
  const { rows } = await trx.raw<{ rows: Array<{ sum: number }> }>(
    `SELECT coalesce(sum(amount_capturable_minor), 0)::bigint AS sum FROM payment_transactions
      WHERE user_id = ? AND currency = ? AND status = 'requires_capture'`,
    [userId, currency],
  );
  return rows[0]?.sum ?? 0;
}
