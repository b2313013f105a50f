import { Redis, type RedisOptions } from "ioredis";

/**
 * Two kinds of connection, per BullMQ's production guide:
 * - producers (the web process) fail fast when Redis is away (`enableOfflineQueue:
 *   false`), so a webhook answers from Postgres instead of hanging on Redis;
 * - workers wait forever (`maxRetriesPerRequest: null`) and keep the offline
 *   queue: a Worker without it never recovers from a Redis restart.
 */
export function producerConnection(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // A Redis that accepts the connection but never answers must not hold a webhook:
    // the command fails after this, and the event, already committed, waits for the sweeper.
    commandTimeout: 1_500,
    retryStrategy: (n) => Math.min(n * 200, 2_000),
  } satisfies RedisOptions);
}

export function workerConnection(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (n) => Math.min(n * 200, 2_000),
  } satisfies RedisOptions);
}
