import type { WithdrawalRow } from "../db/stores/withdrawals.js";
import type { WalletBalance } from "../db/stores/balances.js";
import type { EntryRow } from "../db/stores/ledger-entries.js";
import type { TopUpRow } from "../db/stores/top-ups.js";

/** API shapes. Amounts stay integers of minor units; internal columns never leak. */
export const presentBalance = (b: WalletBalance) => ({
  currency: b.currency,
  available_minor: b.available_minor,
  pending_minor: b.pending_minor,
  held_minor: b.held_minor,
  settling_minor: b.settling_minor,
});

export const ENTRY_ID_PREFIX = "le_";

export const presentEntry = (e: EntryRow) => ({
  id: `${ENTRY_ID_PREFIX}${e.id}`,
  transaction_id: String(e.transaction_id),
  account: e.account,
  currency: e.currency,
  amount_minor: e.amount_minor,
  kind: e.kind,
  source_id: e.source_id,
  created_at: e.created_at.toISOString(),
});

export const presentTopUp = (t: TopUpRow) => ({
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

/** The create response, with the client_secret the frontend needs to confirm the payment. */
export const presentCreatedTopUp = (t: TopUpRow) => ({
  id: t.id,
  payment_intent_id: t.payment_intent_id,
  client_secret: t.client_secret,
  amount_minor: t.amount_minor,
  currency: t.currency,
  status: t.status,
});

export const presentWithdrawal = (w: WithdrawalRow) => ({
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

/** What admins see: the user's fields plus the Stripe references and the decision. */
export const presentWithdrawalForAdmin = (w: WithdrawalRow) => ({
  ...presentWithdrawal(w),
  user_id: w.user_id,
  connected_account_id: w.connected_account_id,
  transfer_id: w.transfer_id,
  payout_id: w.payout_id,
  last_error: w.last_error,
  decided_by: w.decided_by,
  decided_at: w.decided_at?.toISOString() ?? null,
});
