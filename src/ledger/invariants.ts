/**
 * The ledger's invariants, as data. The store checks them in SQL over the whole
 * book (src/db/stores/ledger-checks.ts); this pure version checks an in-memory
 * book and is what property tests compare against.
 */
export type Violation =
  | { kind: "unbalanced_transaction"; transactionId: string; currency: string; sumMinor: string }
  | {
      kind: "balance_cache_mismatch";
      userId: string;
      currency: string;
      bucket: string;
      cachedMinor: string;
      entriesMinor: string;
    }
  | {
      kind: "pending_memo_mismatch";
      userId: string;
      currency: string;
      cachedMinor: string;
      memoMinor: string;
    }
  | { kind: "duplicate_movement"; key: string; count: number }
  | { kind: "short_transaction"; transactionId: string; entries: number };

export interface InvariantReport {
  ok: boolean;
  violations: Violation[];
  /** Not violations: Stripe-forced debits may take a wallet below zero, and such wallets are flagged. */
  negativeBalances: Array<{ userId: string; currency: string; availableMinor: string }>;
}

export interface BookTransaction {
  id: string;
  key: string;
  entries: ReadonlyArray<{ userId: string | null; account: string; currency: string; amountMinor: number }>;
}

export interface CachedBalance {
  userId: string;
  currency: string;
  availableMinor: number;
  heldMinor: number;
}

export function checkBook(
  txs: readonly BookTransaction[],
  balances: readonly CachedBalance[],
): InvariantReport {
  const violations: Violation[] = [];
  const keys = new Map<string, number>();
  const sums = new Map<string, bigint>();
  for (const tx of txs) {
    keys.set(tx.key, (keys.get(tx.key) ?? 0) + 1);
    if (tx.entries.length < 2)
      violations.push({ kind: "short_transaction", transactionId: tx.id, entries: tx.entries.length });
    const perCurrency = new Map<string, bigint>();
    for (const e of tx.entries) {
      perCurrency.set(e.currency, (perCurrency.get(e.currency) ?? 0n) + BigInt(e.amountMinor));
      if (e.userId !== null) {
        const k = `${e.userId}\u0000${e.currency}\u0000${e.account}`;
        sums.set(k, (sums.get(k) ?? 0n) + BigInt(e.amountMinor));
      }
    }
    for (const [currency, sum] of perCurrency) {
      if (sum !== 0n)
        violations.push({
          kind: "unbalanced_transaction",
          transactionId: tx.id,
          currency,
          sumMinor: sum.toString(),
        });
    }
  }
  for (const [key, count] of keys) if (count > 1) violations.push({ kind: "duplicate_movement", key, count });
  const negativeBalances: InvariantReport["negativeBalances"] = [];
  const seen = new Set<string>();
  for (const b of balances) {
    for (const [bucket, cached] of [
      ["available", b.availableMinor],
      ["held", b.heldMinor],
    ] as const) {
      const k = `${b.userId}\u0000${b.currency}\u0000${bucket}`;
      seen.add(k);
      const fromEntries = sums.get(k) ?? 0n;
      if (fromEntries !== BigInt(cached)) {
        violations.push({
          kind: "balance_cache_mismatch",
          userId: b.userId,
          currency: b.currency,
          bucket,
          cachedMinor: String(cached),
          entriesMinor: fromEntries.toString(),
        });
      }
    }
    if (b.availableMinor < 0)
      negativeBalances.push({
        userId: b.userId,
        currency: b.currency,
        availableMinor: String(b.availableMinor),
      });
  }
  for (const [k, sum] of sums) {
    if (seen.has(k) || sum === 0n) continue;
    const [userId = "", currency = "", bucket = ""] = k.split("\u0000");
    violations.push({
      kind: "balance_cache_mismatch",
      userId,
      currency,
      bucket,
      cachedMinor: "missing",
      entriesMinor: sum.toString(),
    });
  }
  return { ok: violations.length === 0, violations, negativeBalances };
}
