import type { Account, PlatformAccountName, UserBucket } from "./types.js";

export const userAccount = (userId: string, bucket: UserBucket): Account => ({
  type: "user",
  userId,
  bucket,
});
export const platformAccount = (name: PlatformAccountName): Account => ({ type: "platform", name });

export const available = (userId: string) => userAccount(userId, "available");
export const held = (userId: string) => userAccount(userId, "held");
export const STRIPE = platformAccount("stripe");
export const STRIPE_FEES = platformAccount("stripe_fees");
export const FEE_REVENUE = platformAccount("fee_revenue");
export const DISPUTE_RESERVE = platformAccount("dispute_reserve");
export const OPENING_BALANCE = platformAccount("opening_balance");
export const PLATFORM_BANK = platformAccount("platform_bank");
export const FX = platformAccount("fx");
export const SUBSCRIPTION_REVENUE = platformAccount("subscription_revenue");

/** The account column value stored in `wallet_ledger.account`. */
export function accountName(a: Account): string {
  return a.type === "user" ? a.bucket : a.name;
}

export function accountUserId(a: Account): string | null {
  return a.type === "user" ? a.userId : null;
}

/** A total order over accounts; the store locks balance rows in this order. */
export function accountSortKey(a: Account): string {
  return a.type === "user" ? `u\u0000${a.userId}\u0000${a.bucket}` : `p\u0000${a.name}`;
}

export function sameAccount(a: Account, b: Account): boolean {
  return accountSortKey(a) === accountSortKey(b);
}
