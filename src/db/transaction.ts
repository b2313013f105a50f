import type { Knex } from "knex";
import type { Db } from "./knex.js";

/** A transaction with hooks that run only once it has committed (formance's `atCommit`). */
export interface Trx extends Knex.Transaction {
  afterCommit(fn: () => void | Promise<void>): void;
}

/**
 * 40P01 (deadlock) and 40001 (serialization failure) mean Postgres rolled the
 * whole transaction back; running it again from the start is always safe.
 */
const RETRYABLE = new Set(["40P01", "40001"]);

export function isRetryablePgError(err: unknown): boolean {
  return typeof err === "object" && err !== null && RETRYABLE.has((err as { code?: string }).code ?? "");
}

export interface TxOptions {
  maxAttempts?: number;
  onRetry?: (err: unknown, attempt: number) => void;
}

export async function withTransaction<T>(
  db: Db,
  fn: (trx: Trx) => Promise<T>,
  opts: TxOptions = {},
): Promise<T> {
  const maxAttempts = opts.maxAttempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    const hooks: Array<() => void | Promise<void>> = [];
    try {
      const result = await db.transaction(async (knexTrx) => {
        const trx = knexTrx as Trx;
        trx.afterCommit = (h) => void hooks.push(h);
        return fn(trx);
      });
      for (const h of hooks) await h();
      return result;
    } catch (err) {
      if (!isRetryablePgError(err) || attempt >= maxAttempts) throw err;
      opts.onRetry?.(err, attempt);
      // Jittered backoff so the transactions that collided do not collide again.
      await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** Math.min(attempt, 6)));
    }
  }
}
