import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { Config } from "../config.js";

/**
 * Terminology:
 * - a connection: what every Redis user in Coffer is given (BullMQ's queues, workers and
 *   schedulers, the rate limits, the Stripe budget, Bull Board, /readyz, the sweeper). It is a
 *   single-node client or a Redis Cluster client; only this module knows which, from the
 *   configuration (`REDIS_CLUSTER_NODES` set: a cluster, seeded from those nodes).
 *
 * Two kinds of connection, per BullMQ's production guide:
 * - producers (the web process) fail fast when Redis is away (`enableOfflineQueue:
 *   false`), so a webhook answers from Postgres instead of hanging on Redis;
 * - workers wait forever (`maxRetriesPerRequest: null`) and keep the offline
 *   queue: a Worker without it never recovers from a Redis restart.
 *
 * On a cluster every key Coffer writes carries QUEUE_PREFIX's hash tag (`{coffer}`, which config
 * enforces), so BullMQ's multi-key scripts, and the limits' keys, all hash to one slot.
 */
export type RedisConnection = Redis | Cluster;

/** Where Redis is: REDIS_URL, or the cluster's seed nodes when REDIS_CLUSTER_NODES is set. */
export type RedisTarget = Pick<Config, "REDIS_URL" | "REDIS_CLUSTER_NODES">;

const retryStrategy = (n: number) => Math.min(n * 200, 2_000);

const PRODUCER: RedisOptions = {
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  // A Redis that accepts the connection but never answers must not hold a webhook:
  // the command fails after this, and the event, already committed, waits for the sweeper.
  commandTimeout: 1_500,
};
const WORKER: RedisOptions = { maxRetriesPerRequest: null };

export function producerConnection(target: string): Redis;
export function producerConnection(target: RedisTarget): RedisConnection;
export function producerConnection(target: string | RedisTarget): RedisConnection {
  return connect(target, PRODUCER, false);
}

export function workerConnection(target: string): Redis;
export function workerConnection(target: RedisTarget): RedisConnection;
export function workerConnection(target: string | RedisTarget): RedisConnection {
  return connect(target, WORKER, true);
}

function connect(target: string | RedisTarget, node: RedisOptions, offlineQueue: boolean): RedisConnection {
  const t = typeof target === "string" ? { REDIS_URL: target, REDIS_CLUSTER_NODES: undefined } : target;
  if (!t.REDIS_CLUSTER_NODES)
    return new Redis(t.REDIS_URL, {
      ...node,
      enableOfflineQueue: offlineQueue,
      retryStrategy,
    } satisfies RedisOptions);
  const { nodes, username, password, tls } = t.REDIS_CLUSTER_NODES;
  return new Cluster(nodes, {
    enableOfflineQueue: offlineQueue,
    // "ready" only once CLUSTER INFO says the cluster serves every slot.
    enableReadyCheck: true,
    // Never give up on the cluster: a worker waits it out, a producer's commands fail fast meanwhile.
    clusterRetryStrategy: retryStrategy,
    // While a replica takes over a killed master, commands for its slots are retried after this.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    redisOptions: {
      ...node,
      ...(username !== undefined && { username }),
      ...(password !== undefined && { password }),
      ...(tls && { tls: {} }),
    },
  } satisfies ClusterOptions);
}

/** Every master's connection: a cluster's settings (CONFIG GET) are per node. */
export const masters = (c: RedisConnection): Redis[] => (c instanceof Cluster ? c.nodes("master") : [c]);
