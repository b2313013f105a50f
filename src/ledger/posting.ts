import { createHash } from "node:crypto";
import { isKnownCurrency } from "../money/currencies.js";
import { accountName, accountSortKey, accountUserId, sameAccount } from "./accounts.js";
import { DomainError } from "./errors.js";
import type { Entry, Posting } from "./types.js";

/**
 * Checks a posting and expands it to entries. Refuses anything that is not a
 * well-formed, single-currency movement of positive safe integers, so no caller
 * can write an unbalanced or mixed-currency transaction.
 */
export function toEntries(posting: Posting): Entry[] {
  if (!posting.key || posting.key.length > 200) throw invalid("posting key must be 1–200 characters");
  if (posting.transfers.length === 0) throw invalid("a posting needs at least one transfer");
  const currency = posting.transfers[0]!.money.currency;
  if (!isKnownCurrency(currency)) throw invalid(`unknown currency ${String(currency)}`);
  const entries: Entry[] = [];
  for (const t of posting.transfers) {
    const { amountMinor } = t.money;
    if (t.money.currency !== currency) {
      throw new DomainError("currency_mismatch", "a posting may not mix currencies", { key: posting.key });
    }
    if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0) {
      throw invalid(`transfer amount must be a positive safe integer, got ${String(amountMinor)}`);
    }
    if (sameAccount(t.from, t.to)) throw invalid("a transfer must move money between two accounts");
    entries.push({ account: t.from, currency, amountMinor: -amountMinor });
    entries.push({ account: t.to, currency, amountMinor });
  }
  // Balanced by construction; checked anyway because this is the last gate before the books.
  const sum = entries.reduce((s, e) => s + BigInt(e.amountMinor), 0n);
  if (sum !== 0n) throw invalid("posting does not balance");
  return entries;
}

/**
 * A fingerprint of what a posting moves. Stored beside the idempotency key so a
 * replay with the same inputs returns the first result while the same key with
 * different inputs is caught as a bug instead of silently ignored.
 */
export function postingHash(posting: Posting, entries: readonly Entry[]): string {
  const canonical = entries
    .map((e) => `${accountSortKey(e.account)}|${e.currency}|${e.amountMinor}`)
    .sort()
    .join("\n");
  return createHash("sha256").update(`${posting.kind}\n${canonical}`).digest("hex");
}

/** The user balance rows a posting touches, deduplicated, in lock order. */
export function touchedUserBalances(entries: readonly Entry[]): Array<{ userId: string; currency: string }> {
  const seen = new Map<string, { userId: string; currency: string }>();
  for (const e of entries) {
    const userId = accountUserId(e.account);
    if (userId === null) continue;
    seen.set(`${userId}\u0000${e.currency}`, { userId, currency: e.currency });
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** Net change per user bucket, used to update the balance cache in the same transaction. */
export function userDeltas(
  entries: readonly Entry[],
): Map<string, { userId: string; currency: string; available: number; held: number }> {
  const out = new Map<string, { userId: string; currency: string; available: number; held: number }>();
  for (const e of entries) {
    if (e.account.type !== "user") continue;
    const k = `${e.account.userId}\u0000${e.currency}`;
    const d = out.get(k) ?? { userId: e.account.userId, currency: e.currency, available: 0, held: 0 };
    if (accountName(e.account) === "available") d.available += e.amountMinor;
    else d.held += e.amountMinor;
    out.set(k, d);
  }
  return out;
}

const invalid = (message: string) => new DomainError("ledger_invalid_posting", message);
