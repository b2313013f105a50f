/**
 * The soak's own account of where every user's money should be, written from what the soak
 * asked Stripe and Coffer to do, never from Coffer's tables or code: it imports nothing from
 * src/, so a bug in Coffer's money arithmetic cannot be copied into the check that should catch
 * it. Each method is one fact of SPEC's postings table, as a user sees it:
 *
 *   captured (card or bank debit, in full or in part)  available + amount
 *   refund that stays (pending or succeeded)            available − amount
 *   refund that failed                                  nothing, in the end
 *   dispute opened (not an inquiry, not prevented)      available − amount
 *   dispute won, or an appeal won                       available + amount
 *   withdrawal requested                                available − amount, held + amount
 *   withdrawal paid                                     held − amount
 *   withdrawal rejected, canceled, failed, reversed     held − amount, available + amount
 *
 * Fees never touch a user's wallet except the withdrawal fee, which is inside the amount held,
 * so the model needs the withdrawal fee only to say what Stripe must have been asked to transfer.
 */
export interface WalletModel {
  available: number;
  held: number;
}

export interface FeeRule {
  fixed_minor: number;
  bps: number;
  min_minor: number;
}

export type WithdrawalEnd = "paid" | "failed" | "reversed" | "rejected" | "canceled";

export interface ModelWithdrawal {
  id: string;
  user: string;
  currency: string;
  amountMinor: number;
  netMinor: number;
  end: WithdrawalEnd | undefined;
}

export class Model {
  readonly #wallets = new Map<string, WalletModel>();
  readonly withdrawals = new Map<string, ModelWithdrawal>();
  readonly users = new Set<string>();

  constructor(private readonly fees: Readonly<Record<string, FeeRule>>) {}

  #wallet(user: string, currency: string): WalletModel {
    this.users.add(user);
    const key = `${user}\u0000${currency}`;
    let w = this.#wallets.get(key);
    if (!w) this.#wallets.set(key, (w = { available: 0, held: 0 }));
    return w;
  }

  /** Every (user, currency) the soak touched, with what it should hold. */
  wallets(): Array<{ user: string; currency: string } & WalletModel> {
    return [...this.#wallets].map(([key, w]) => {
      const [user, currency] = key.split("\u0000") as [string, string];
      return { user, currency, ...w };
    });
  }

  /** Makes the wallet known to the model with nothing in it (a top-up that never paid). */
  touch(user: string, currency: string): void {
    this.#wallet(user, currency);
  }

  captured(user: string, currency: string, amountMinor: number): void {
    this.#wallet(user, currency).available += amountMinor;
  }

  refunded(user: string, currency: string, amountMinor: number): void {
    this.#wallet(user, currency).available -= amountMinor;
  }

  /** A refund debited when created, then failed or canceled: the debit is undone. */
  refundFailed(user: string, currency: string, amountMinor: number): void {
    this.#wallet(user, currency).available += amountMinor;
  }

  disputeOpened(user: string, currency: string, amountMinor: number): void {
    this.#wallet(user, currency).available -= amountMinor;
  }

  disputeWon(user: string, currency: string, amountMinor: number): void {
    this.#wallet(user, currency).available += amountMinor;
  }

  /**
   * The fee SPEC gives: fixed + ⌈amount × bps / 10 000⌉, computed in BigInt here so that the
   * product cannot lose precision; the net is what the Transfer must carry.
   */
  withdrawalFee(currency: string, amountMinor: number): number {
    const rule = this.fees[currency] ?? this.fees.default;
    if (!rule) throw new Error("the soak's WITHDRAWAL_FEES has no default rule");
    const product = BigInt(amountMinor) * BigInt(rule.bps);
    const ceil = (product + 9_999n) / 10_000n;
    return rule.fixed_minor + Number(ceil);
  }

  withdrawalRequested(id: string, user: string, currency: string, amountMinor: number): ModelWithdrawal {
    const w = this.#wallet(user, currency);
    w.available -= amountMinor;
    w.held += amountMinor;
    const netMinor = amountMinor - this.withdrawalFee(currency, amountMinor);
    const wd: ModelWithdrawal = { id, user, currency, amountMinor, netMinor, end: undefined };
    this.withdrawals.set(id, wd);
    return wd;
  }

  withdrawalEnded(id: string, end: WithdrawalEnd): void {
    const wd = this.withdrawals.get(id);
    if (!wd) throw new Error(`model: unknown withdrawal ${id}`);
    if (wd.end !== undefined) throw new Error(`model: withdrawal ${id} already ended ${wd.end}`);
    wd.end = end;
    const w = this.#wallet(wd.user, wd.currency);
    w.held -= wd.amountMinor;
    if (end !== "paid") w.available += wd.amountMinor;
  }
}
