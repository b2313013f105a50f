import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { QUEUE_NAMES } from "../../src/queue/names.js";

/**
 * The bench's own view of Redis: it never adds jobs, it only watches for the
 * worker to come up and wipes the bench's queues. Ingestion runs without a
 * worker, so tens of thousands of jobs pile up and must not outlive the run.
 */
export interface BenchQueues {
  /** Connected BullMQ workers on Coffer's `payments` queue (BullMQ names its connections). */
  paymentsWorkers(): Promise<number>;
  /** Empties every bench queue, Coffer's and the baseline's, so each run starts from the same Redis. */
  obliterateAll(): Promise<void>;
  /** Removes every queue and any stray key under both bench prefixes, then disconnects. */
  close(): Promise<void>;
}

export function benchQueues(redisUrl: string, cofferPrefix: string, baselinePrefix: string): BenchQueues {
  // Fails commands after one reconnect attempt instead of waiting forever: an unreachable Redis
  // must end the bench with an error, not hang it.
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  connection.on("error", () => undefined);
  const coffer = QUEUE_NAMES.map((name) => new Queue(name, { connection, prefix: cofferPrefix }));
  const baseline = new Queue("payments", { connection, prefix: baselinePrefix });
  const payments = coffer[QUEUE_NAMES.indexOf("payments")]!;
  // Connection trouble surfaces as a failed call below; the 'error' events would only repeat it.
  for (const q of [...coffer, baseline]) q.on("error", () => undefined);

  const obliterate = async (qs: Queue[]) => {
    for (const q of qs) await q.obliterate({ force: true });
  };

  return {
    paymentsWorkers: () => payments.getWorkersCount(),
    obliterateAll: () => obliterate([...coffer, baseline]),
    async close() {
      try {
        await obliterate([...coffer, baseline]);
        // Job schedulers and metrics keys a worker registers can sit outside what obliterate removes;
        // the prefixes are random per run, so deleting everything under them touches nothing else.
        for (const prefix of [cofferPrefix, baselinePrefix]) await deleteByPrefix(connection, prefix);
      } finally {
        await Promise.all([...coffer, baseline].map((q) => q.close()));
        connection.disconnect();
      }
    },
  };
}

async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}
