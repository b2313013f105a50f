import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { QUEUE_NAMES } from "./config.js";
import type { VerifyFailure } from "./stripe/verify.js";

/**
 * Which process exports a metric. Each one is measured in one process only, so each process
 * registers only its own: a worker's job durations on the web's /metrics would sit at 0 for
 * ever, and look like a worker that does nothing. `all` (tests, scripts) registers everything.
 */
export type MetricsRole = "web" | "worker" | "all";

/** Every reason the webhook route refuses a delivery with; the compile-time check below keeps it whole. */
export const WEBHOOK_REJECTION_REASONS = [
  "missing_signature",
  "bad_signature",
  "stale_timestamp",
  "future_timestamp",
  "too_large",
  "livemode_mismatch",
  "rate_limited",
] as const;
type Unlisted = Exclude<VerifyFailure, (typeof WEBHOOK_REJECTION_REASONS)[number]>;
const everyReasonListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyReasonListed;

export const JOB_FAILURE_KINDS = ["terminal", "transient"] as const;
export const RECONCILIATION_SIDES = ["stripe", "ledger"] as const;

/**
 * Prometheus metrics for one process. Built per process (not on the global registry) so
 * several apps can live in one test process without clashing. Every label set an alert
 * watches starts at 0, so the first refusal or failure is a rise Prometheus can see, not a
 * series that appears out of nothing.
 */
export function createMetrics(opts: { defaults?: boolean; role?: MetricsRole } = {}) {
  const role = opts.role ?? "all";
  const registry = new Registry();
  if (opts.defaults) registerDefaults(registry);
  const web = role === "worker" ? [] : [registry];
  const worker = role === "web" ? [] : [registry];
  // Postings are booked in both: by workers, and by the web's admin routes (the cut-over).
  const both = [registry];
  const m = {
    registry,
    webhooksReceived: new Counter({
      name: "coffer_webhooks_received_total",
      help: "Verified webhook deliveries, by type (`other` for a type Coffer does not know)",
      labelNames: ["type"],
      registers: web,
    }),
    webhooksDuplicate: new Counter({
      name: "coffer_webhooks_duplicate_total",
      help: "Deliveries of an event already stored",
      registers: web,
    }),
    webhooksRejected: new Counter({
      name: "coffer_webhooks_rejected_total",
      help: "Refused webhook deliveries, by reason",
      labelNames: ["reason"],
      registers: web,
    }),
    webhooksUnusable: new Counter({
      name: "coffer_webhooks_unusable_total",
      help: "Signed deliveries that could not be stored as events: kept raw, failed, alerted",
      registers: web,
    }),
    webhooksConflicting: new Counter({
      name: "coffer_webhooks_conflicting_total",
      help: "Deliveries of a stored event id with a different payload: nothing changed, alerted",
      registers: web,
    }),
    webhooksAborted: new Counter({
      name: "coffer_webhooks_aborted_total",
      help: "Webhook deliveries whose client went away or missed the body deadline",
      registers: web,
    }),
    webhooksUnenqueued: new Counter({
      name: "coffer_webhooks_unenqueued_total",
      help: "Events stored while Redis refused the job; the sweeper enqueues them",
      registers: web,
    }),
    eventLag: new Histogram({
      name: "coffer_event_lag_seconds",
      help: "From Stripe's event.created to the event being applied",
      labelNames: ["queue"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: worker,
    }),
    jobDuration: new Histogram({
      name: "coffer_job_duration_seconds",
      help: "Job run time, by queue and outcome",
      labelNames: ["queue", "outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: worker,
    }),
    jobFailures: new Counter({
      name: "coffer_job_failures_total",
      help: "Job attempts that failed, by queue and kind (terminal or transient)",
      labelNames: ["queue", "kind"],
      registers: worker,
    }),
    postings: new Counter({
      name: "coffer_postings_total",
      help: "Ledger postings applied, by kind",
      labelNames: ["kind"],
      registers: both,
    }),
    postingConflicts: new Counter({
      name: "coffer_posting_key_conflicts_total",
      help: "Same posting key with different amounts",
      registers: worker,
    }),
    groupCommitJobs: new Histogram({
      name: "coffer_group_commit_batch_jobs",
      help: "Jobs per group-commit transaction that committed (src/db/group-commit.ts)",
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: worker,
    }),
    groupCommitFallbacks: new Counter({
      name: "coffer_group_commit_fallbacks_total",
      help: "Group-commit batches a job's refusal rolled back, each of its jobs then committed alone",
      registers: worker,
    }),
    sweeperEnqueued: new Counter({
      name: "coffer_sweeper_enqueued_total",
      help: "Events the sweeper re-enqueued",
      registers: worker,
    }),
    queueDepth: new Gauge({
      name: "coffer_queue_depth",
      help: "Jobs per queue and state, read from Redis on each scrape",
      labelNames: ["queue", "state"],
      registers: web,
    }),
    // The last run's figures: a worker sets them when its run ends, but the web reads them
    // from Postgres on each scrape and is the one that exports them.
    reconciliationDifference: new Gauge({
      name: "coffer_reconciliation_difference_minor",
      help: "Stripe minus ledger at the last reconciliation run, per currency",
      labelNames: ["currency"],
      registers: web,
    }),
    settlingFunds: new Gauge({
      name: "coffer_settling_minor",
      help: "Wallet funds Stripe still holds as pending (settling_minor summed over wallets), per currency",
      labelNames: ["currency"],
      registers: web,
    }),
    // Alert on this, not on the figure: a sample that fails leaves coffer_settling_minor as it was.
    settlingSampleAge: new Gauge({
      name: "coffer_settling_sample_age_seconds",
      help: "Seconds since coffer_settling_minor was last read from Postgres (it is read at most every 30 s)",
      registers: web,
    }),
    reconciliationUnmatched: new Gauge({
      name: "coffer_reconciliation_unmatched",
      help: "Lines the last reconciliation run could not match, by the side that has them",
      labelNames: ["side"],
      registers: web,
    }),
    httpDuration: new Histogram({
      name: "coffer_http_request_duration_seconds",
      help: "HTTP request duration, by method, route template and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: web,
    }),
  };
  for (const reason of WEBHOOK_REJECTION_REASONS) m.webhooksRejected.inc({ reason }, 0);
  for (const side of RECONCILIATION_SIDES) m.reconciliationUnmatched.set({ side }, 0);
  for (const queue of QUEUE_NAMES)
    for (const kind of JOB_FAILURE_KINDS) m.jobFailures.inc({ queue, kind }, 0);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * prom-client's process and Node.js metrics, prefixed `coffer_`, less its three gauges named
 * `…_total` (active handles, requests and resources, summed over types), which
 * `promtool check metrics` rejects: only a counter may end in `_total`. The same figures stay
 * by type (`coffer_nodejs_active_handles{type}` …); `sum()` gives the totals.
 */
function registerDefaults(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: "coffer_" });
  for (const name of ["active_handles_total", "active_requests_total", "active_resources_total"])
    registry.removeSingleMetric(`coffer_nodejs_${name}`);
}
