import type { Knex } from "knex";
import { createLogger, type Logger } from "../logger.js";
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
  /** Where a failing after-commit hook is reported; absent, a root logger at LOG_LEVEL. */
  log?: Logger;
}

let fallbackLog: Logger | undefined;

/**
 * Runs `fn` in a transaction, again from the start on 40P01 / 40001, then the after-commit hooks
 * of the attempt that committed. The hooks run after the retry loop, once: the transaction is
 * durable by then, so a hook's error (even one carrying 40P01) is logged with `alert: true` and
 * never rethrown, never turns the committed transaction into a failed one, and never runs it again.
 */
export async function withTransaction<T>(
  db: Db,
  fn: (trx: Trx) => Promise<T>,
  opts: TxOptions = {},
): Promise<T> {
  const maxAttempts = opts.maxAttempts ?? 8;
  let hooks: Array<() => void | Promise<void>> = [];
  let result: T;
  for (let attempt = 1; ; attempt++) {
    hooks = [];
    try {
      result = await db.transaction(async (knexTrx) => {
        const trx = knexTrx as Trx;
        trx.afterCommit = (h) => void hooks.push(h);
        return fn(trx);
      });
      break;
    } catch (err) {
      if (!isRetryablePgError(err) || attempt >= maxAttempts) throw err;
      opts.onRetry?.(err, attempt);
      // Jittered backoff so the transactions that collided do not collide again.
      await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** Math.min(attempt, 6)));
    }
  }
  for (const h of hooks) {
    try {
      await h();
    } catch (err) {
      const log = opts.log ?? (fallbackLog ??= createLogger(process.env.LOG_LEVEL ?? "info"));
      // Someone must do by hand what the hook was for (an enqueue, a notification): the data is committed.
      log.error({ err, alert: true }, "after-commit hook failed; the transaction stays committed");
    }
  }
  return result;
}
