import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics for one process. Built per process (not on the global
 * registry) so several apps can live in one test process without clashing.
 */
export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: "coffer_" });
  const r = [registry];
  return {
    registry,
    webhooksReceived: new Counter({
      name: "coffer_webhooks_received_total",
      help: "Verified webhook deliveries, by type (`other` for a type Coffer does not know)",
      labelNames: ["type"],
      registers: r,
    }),
    webhooksDuplicate: new Counter({
      name: "coffer_webhooks_duplicate_total",
      help: "Deliveries of an event already stored",
      registers: r,
    }),
    webhooksRejected: new Counter({
      name: "coffer_webhooks_rejected_total",
      help: "Refused webhook deliveries",
      labelNames: ["reason"],
      registers: r,
    }),
    webhooksUnusable: new Counter({
      name: "coffer_webhooks_unusable_total",
      help: "Signed deliveries that could not be stored as events: kept raw, failed, alerted",
      registers: r,
    }),
    webhooksConflicting: new Counter({
      name: "coffer_webhooks_conflicting_total",
      help: "Deliveries of a stored event id with a different payload: nothing changed, alerted",
      registers: r,
    }),
    webhooksAborted: new Counter({
      name: "coffer_webhooks_aborted_total",
      help: "Webhook deliveries whose client went away or missed the body deadline",
      registers: r,
    }),
    webhooksUnenqueued: new Counter({
      name: "coffer_webhooks_unenqueued_total",
      help: "Events stored while Redis refused the job; the sweeper enqueues them",
      registers: r,
    }),
    eventLag: new Histogram({
      name: "coffer_event_lag_seconds",
      help: "From Stripe's event.created to the event being applied",
      labelNames: ["queue"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: r,
    }),
    jobDuration: new Histogram({
      name: "coffer_job_duration_seconds",
      help: "Job run time",
      labelNames: ["queue", "outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    jobFailures: new Counter({
      name: "coffer_job_failures_total",
      help: "Job attempts that failed",
      labelNames: ["queue", "kind"],
      registers: r,
    }),
    postings: new Counter({
      name: "coffer_postings_total",
      help: "Ledger postings applied",
      labelNames: ["kind"],
      registers: r,
    }),
    postingConflicts: new Counter({
      name: "coffer_posting_key_conflicts_total",
      help: "Same posting key with different amounts",
      registers: r,
    }),
    sweeperEnqueued: new Counter({
      name: "coffer_sweeper_enqueued_total",
      help: "Events the sweeper re-enqueued",
      registers: r,
    }),
    queueDepth: new Gauge({
      name: "coffer_queue_depth",
      help: "Jobs per queue and state",
      labelNames: ["queue", "state"],
      registers: r,
    }),
    reconciliationDifference: new Gauge({
      name: "coffer_reconciliation_difference_minor",
      help: "Stripe minus ledger, per currency",
      labelNames: ["currency"],
      registers: r,
    }),
    settlingFunds: new Gauge({
      name: "coffer_settling_minor",
      help: "Wallet funds Stripe still holds as pending (settling_minor summed over wallets), per currency",
      labelNames: ["currency"],
      registers: r,
    }),
    reconciliationUnmatched: new Gauge({
      name: "coffer_reconciliation_unmatched",
      help: "Lines the last reconciliation run could not match, by the side that has them",
      labelNames: ["side"],
      registers: r,
    }),
    httpDuration: new Histogram({
      name: "coffer_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
