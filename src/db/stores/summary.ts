import type { Tx } from "../knex.js";
import { latestFinishedRun, runSnapshots } from "./reconciliation.js";

/**
 * The admin summary: money per currency as the books see it, and the queues a
 * human may need to look at. Stripe's holdings are minus the `stripe` account.
 */
export async function adminSummary(trx: Tx) {
  const wallets = await trx.raw<{
    rows: Array<{ currency: string; available: number; held: number; pending: number; negative: number }>;
  }>(
    `SELECT currency, sum(available_minor)::bigint AS available, sum(held_minor)::bigint AS held,
            sum(pending_minor)::bigint AS pending, count(*) FILTER (WHERE available_minor < 0)::int AS negative
       FROM user_wallet_balances GROUP BY currency ORDER BY currency`,
  );
  const platform = await trx.raw<{ rows: Array<{ currency: string; account: string; balance: number }> }>(
    `SELECT currency, account, sum(amount_minor)::bigint AS balance FROM wallet_ledger
      WHERE user_id IS NULL GROUP BY currency, account`,
  );
  const counts = await trx.raw<{ rows: Array<{ pending_withdrawals: number; failed_events: number }> }>(
    `SELECT (SELECT count(*) FROM withdrawal_requests WHERE status = 'pending_review')::int AS pending_withdrawals,
            (SELECT count(*) FROM stripe_webhook_events WHERE status = 'failed')::int AS failed_events`,
  );
  const run = await latestFinishedRun(trx);
  const reconciliation = run
    ? {
        run_id: run.id,
        status: run.status,
        window_start: run.window_start,
        window_end: run.window_end,
        finished_at: run.finished_at,
        stripe_unmatched: run.stripe_unmatched,
        ledger_unmatched: run.ledger_unmatched,
        currencies: (await runSnapshots(trx, run.id)).map((s) => ({
          currency: s.currency,
          status: s.status,
          difference_minor: s.difference_minor,
          opening_balance_minor: s.opening_balance_minor,
          fx_exposure_minor: s.fx_exposure_minor,
        })),
      }
    : null;
  const totals = wallets.rows.map((w) => {
    const of = (account: string) =>
      platform.rows.find((p) => p.currency === w.currency && p.account === account)?.balance ?? 0;
    return {
      currency: w.currency,
      users_available_minor: w.available,
      users_held_minor: w.held,
      users_pending_minor: w.pending,
      negative_wallets: w.negative,
      stripe_position_minor: -of("stripe"),
      stripe_fees_minor: -of("stripe_fees"),
      fee_revenue_minor: of("fee_revenue"),
      dispute_reserve_minor: of("dispute_reserve"),
    };
  });
  return { totals, ...counts.rows[0]!, last_reconciliation: reconciliation };
}
