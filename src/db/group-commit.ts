import type { Logger } from "../logger.js";
import type { Db } from "./knex.js";
import { lockExistingBalances } from "./stores/balances.js";
import { lockPaymentRows } from "./stores/top-ups.js";
import { withTransaction, type Trx } from "./transaction.js";

/**
 * Group commit: the postings of concurrent jobs in one worker share one database transaction.
 *
 * Why. A credit's own work in Postgres is a handful of small statements; what dominates is the
 * fixed cost around them: BEGIN, COMMIT, the WAL flush COMMIT waits for (synchronous_commit is
 * on: a posting is durable when its job is acknowledged), and the round trips of each. On one
 * hot wallet it is worse: every credit holds the wallet's row lock across its own commit, so the
 * wallet can never take more credits per second than the disk takes flushes. TigerBeetle's answer
 * is to amortise that cost over a batch, and so is this: jobs that reach their transaction within
 * `windowMs` of each other (or `maxBatch` of them) run one after another inside one transaction,
 * and one COMMIT makes them all durable. Each job waits for that COMMIT before it returns, so a
 * job is acknowledged to BullMQ only once its posting is durable, and a worker killed mid-batch
 * leaves nothing behind: Postgres rolls the whole batch back, and BullMQ hands the jobs out again.
 *
 * Locks. Each job declares what its transaction will lock (`Locks`), and the batch takes all of it
 * first, in Coffer's one global order: payment rows (by id), then balance rows (user, currency,
 * C collation, as lockBalances does). A job's own lock statements then find their rows held by
 * the batch already. Two batches, or a batch and a single-payment flow (a refund locks its payment
 * row, then its wallet), therefore lock in the same order and do not wait on each other in a
 * cycle. A wallet's first posting creates its row, which no pre-lock can hold; jobs run in wallet
 * order so two batches create new rows in the same order too. Should a deadlock still happen (a
 * job that locks what it did not declare), Postgres's 40P01 retries the batch.
 *
 * Refusals. A job whose function throws (insufficient funds, an idempotency conflict, any error)
 * must not fail its neighbours. Its statements may already have written, so the batch is rolled
 * back and every job of it runs again, one by one, each in its own transaction (with its own
 * retries): each gets its own result or its own error. Refusals are rare, so the cost of the
 * second pass is paid rarely. (Savepoints would avoid it, at two round trips per job every time.)
 *
 * A job's function must therefore be safe to run more than once, as any function given to
 * withTransaction already must be (a deadlock retry runs it again from the start).
 */
export interface Locks {
  /** payment_transactions rows, by PaymentIntent id and, before it is attached, by top-up id. */
  payments?: ReadonlyArray<{ paymentIntentId: string; topUpId?: string | undefined }>;
  balances?: ReadonlyArray<{ userId: string; currency: string }>;
}

export interface GroupCommitOptions {
  /** How long the first job of a batch waits for company, in ms (0: the jobs of this tick). */
  windowMs: number;
  /** Jobs per transaction at most. */
  maxBatch: number;
  /**
   * Batches committing at once. While they are at this limit, arriving jobs gather for the next
   * one, so a busy worker makes larger batches instead of more transactions, and holds at most
   * this many pool connections (batches on one hot wallet would only queue on its lock).
   */
  maxInFlight?: number;
  log: Logger;
  /** Told of each batch's end: committed with its jobs, or refused and committed one by one. */
  observe?: { committed(jobs: number): void; fellBack(jobs: number): void };
}

interface Member {
  locks: Locks;
  fn: (trx: Trx) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  private pending: Member[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxInFlight: number;

  constructor(
    private readonly db: Db,
    private readonly o: GroupCommitOptions,
  ) {
    this.maxInFlight = o.maxInFlight ?? 2;
  }

  /** Runs `fn` in a transaction shared with other jobs' and resolves once that has committed. */
  run<T>(locks: Locks, fn: (trx: Trx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ locks, fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.length >= this.o.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.o.windowMs);
    });
  }

  /** Commits what is gathered and waits for every batch in flight (a worker's drain). */
  async close(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight.size > 0) {
      this.flush();
      await Promise.race(this.inFlight);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0 && this.inFlight.size < this.maxInFlight) {
      const batch = this.pending.splice(0, this.o.maxBatch).sort(byWallet);
      const done: Promise<void> = this.commit(batch).finally(() => {
        this.inFlight.delete(done);
        // Whoever gathered meanwhile has waited long enough.
        if (this.pending.length > 0) this.flush();
      });
      this.inFlight.add(done);
    }
  }

  private async commit(batch: Member[]): Promise<void> {
    let results: unknown[];
    try {
      results = await withTransaction(this.db, async (trx) => {
        // The pre-lock orders a batch's jobs among each other. A batch of one is a job's own
        // transaction, as without group commit, whose statements take their locks in that order
        // themselves; at 200 events/s nearly every batch is of one, and this saves it 2 round trips.
        if (batch.length > 1)
          await lockInOrder(
            trx,
            batch.map((m) => m.locks),
          );
        const out: unknown[] = [];
        for (const m of batch) out.push(await m.fn(trx));
        return out;
      });
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      this.o.observe?.fellBack(batch.length);
      this.o.log.debug({ err, batch: batch.length }, "group commit refused; committing its jobs one by one");
      for (const m of batch) await withTransaction(this.db, m.fn).then(m.resolve, m.reject);
      return;
    }
    this.o.observe?.committed(batch.length);
    batch.forEach((m, i) => m.resolve(results[i]));
  }
}

async function lockInOrder(trx: Trx, all: Locks[]): Promise<void> {
  const payments = all.flatMap((l) => l.payments ?? []);
  if (payments.length > 0)
    await lockPaymentRows(
      trx,
      payments.map((p) => p.paymentIntentId),
      payments.flatMap((p) => (p.topUpId ? [p.topUpId] : [])),
    );
  const balances = all.flatMap((l) => l.balances ?? []);
  if (balances.length > 0) await lockExistingBalances(trx, balances);
}

/**
 * The order a batch runs its jobs in: by the first wallet each declares (user, currency, bytewise,
 * which is the C collation's order), so that two batches that both create new wallets' rows (a
 * wallet's first posting, which no pre-lock can cover) create them in the same order.
 */
function byWallet(a: Member, b: Member): number {
  const key = (m: Member) => {
    const w = m.locks.balances?.[0];
    return w ? Buffer.from(`${w.userId}\u0000${w.currency}`) : EMPTY;
  };
  return Buffer.compare(key(a), key(b));
}
const EMPTY = Buffer.alloc(0);

/** The jobs' way in: through the worker's group commit when there is one, else a transaction of their own. */
export function commitWith<T>(
  deps: { db: Db; groupCommit?: GroupCommit | undefined },
  locks: Locks,
  fn: (trx: Trx) => Promise<T>,
): Promise<T> {
  return deps.groupCommit ? deps.groupCommit.run(locks, fn) : withTransaction(deps.db, fn);
}
