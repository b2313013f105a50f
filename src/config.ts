import { z } from "zod";
import { CURRENCIES } from "./money/currencies.js";
import { OFFLINE_JWT_SECRET, OFFLINE_WEBHOOK_SECRET } from "./offline.js";

/**
 * All configuration comes from the environment and is validated once at boot.
 * A bad value stops the process with one line per problem instead of failing
 * later inside a request or a job.
 */

/** Developer defaults: the app as coffer_app, migrations as the machine's superuser (trust auth). */
/** AUTH_MAX_TOKEN_LIFETIME_S's default: a day. */
export const DEFAULT_MAX_TOKEN_LIFETIME_S = 86_400;
/** AUTH_CLOCK_SKEW_S's default: how far the issuer's clock may run ahead of ours. */
export const DEFAULT_CLOCK_SKEW_S = 60;

export const DEV_DATABASE_URL = "postgres://coffer_app@127.0.0.1:5432/coffer";
export const DEV_DATABASE_OWNER_URL = "postgres://root@127.0.0.1:5432/coffer";

const feeRule = z.strictObject({
  fixed_minor: z.number().int().min(0),
  bps: z.number().int().min(0).max(10_000),
  min_minor: z.number().int().min(0),
});
export type FeeRule = z.infer<typeof feeRule>;

const feesJson = z
  .string()
  .transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be JSON" });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string(), feeRule).refine((r) => "default" in r, "needs a `default` entry"));

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const currencyList = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((c) => c.trim().toLowerCase())
      .filter(Boolean),
  )
  .refine((cs) => cs.length > 0 && cs.every((c) => c in CURRENCIES), "must list known ISO 4217 codes");

/**
 * REDIS_CLUSTER_NODES: a Redis Cluster's seed nodes, comma-separated, each `host:port` or a
 * `redis://` / `rediss://` URL (whose user, password and TLS then apply to every node, so the
 * entries that carry them must agree). The client finds the rest of the cluster from them.
 */
const clusterNodes = z.string().transform((s, ctx) => {
  const urls = s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => (/^rediss?:\/\//.test(x) ? x : `redis://${x}`));
  const parsed = urls.map((u) => URL.canParse(u) && new URL(u));
  if (parsed.length === 0 || !parsed.every((u) => u && u.hostname && u.port)) {
    ctx.addIssue({ code: "custom", message: "must list host:port (or redis[s]:// URLs), comma-separated" });
    return z.NEVER;
  }
  const all = parsed as URL[];
  const auth = new Set(all.filter((u) => u.username || u.password).map((u) => `${u.username}:${u.password}`));
  const tls = new Set(all.map((u) => u.protocol === "rediss:"));
  if (auth.size > 1 || tls.size > 1) {
    ctx.addIssue({ code: "custom", message: "nodes must agree on user, password and rediss://" });
    return z.NEVER;
  }
  const withAuth = all.find((u) => u.username || u.password);
  return {
    nodes: all.map((u) => ({ host: u.hostname, port: Number(u.port) })),
    ...(withAuth?.username && { username: decodeURIComponent(withAuth.username) }),
    ...(withAuth?.password && { password: decodeURIComponent(withAuth.password) }),
    tls: tls.has(true),
  };
});

/** On a cluster, BullMQ's keys must share one slot: the prefix is a hash tag, `{name}`. */
export const CLUSTER_QUEUE_PREFIX = "{coffer}";
const HASH_TAGGED = /^\{[a-zA-Z0-9_-]+\}$/;

export const QUEUE_NAMES = [
  "payments",
  "refunds",
  "disputes",
  "withdrawals",
  "subscriptions",
  "reconciliation",
  "maintenance",
] as const;

const schema = z.object({
  NODE_ENV: z.string().default("development"),
  // The application's role (least privilege: rows only, never the ledger's history); see
  // databaseOwnerUrl for the owner's, which migrations use.
  DATABASE_URL: z.string().url().default(DEV_DATABASE_URL),
  DATABASE_OWNER_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
  /** Set: Coffer talks to a Redis Cluster seeded from these nodes, and REDIS_URL is unused. */
  REDIS_CLUSTER_NODES: clusterNodes.optional(),
  PORT: int(3000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  STRIPE_SECRET_KEY: z.string().startsWith("sk_").optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine(
      (l) => l.length > 0 && l.every((x) => x.startsWith("whsec_")),
      "must be whsec_… (comma-separated to rotate)",
    ),
  STRIPE_WEBHOOK_TOLERANCE_S: int(300, 1),
  STRIPE_LIVEMODE: bool.default(false),
  STRIPE_API_BASE: z.string().url().optional(),
  STRIPE_TIMEOUT_MS: int(10_000, 100),
  // One budget for every process (src/stripe/budget.ts); 2 is the least a windowed limit can honour.
  STRIPE_MAX_RPS: z.coerce.number().int().min(2).max(10_000).default(20),
  AUTH_JWT_SECRET: z.string().min(16, "must be at least 16 characters"),
  /** A token whose `exp` is further away than this is refused (a day by default). */
  AUTH_MAX_TOKEN_LIFETIME_S: int(DEFAULT_MAX_TOKEN_LIFETIME_S, 1),
  /** Leeway for the issuer's clock running ahead: `exp` may be this much beyond the maximum lifetime. */
  AUTH_CLOCK_SKEW_S: int(DEFAULT_CLOCK_SKEW_S, 0),
  /** The web's HTTP deadlines and connection cap (src/web.ts). */
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 100),
  HTTP_REQUEST_TIMEOUT_MS: int(30_000, 100),
  HTTP_MAX_CONNECTIONS: int(1024, 1),
  /** How long a webhook's body may take to arrive. */
  WEBHOOK_BODY_TIMEOUT_MS: int(5_000, 100),
  WITHDRAWAL_FEES: feesJson.prefault(
    JSON.stringify({ default: { fixed_minor: 25, bps: 100, min_minor: 500 } }),
  ),
  WALLET_CURRENCIES: currencyList.prefault("usd,eur,gbp,jpy"),
  /** Per user (and per admin) on money-moving and Stripe-calling routes, across all web processes; 0 = off. */
  RATE_LIMIT_PER_MINUTE: int(60),
  /** Refused webhook deliveries per client address per minute before that address gets 429; 0 = off. */
  WEBHOOK_REFUSALS_PER_MINUTE: int(600),
  /**
   * How many reverse proxies in front of the web append to X-Forwarded-For: the client address is
   * the entry that many from the right (a client can prepend entries, never append them). 0 = the
   * socket's address, and forwarded headers are ignored.
   */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(16).default(0),
  RECONCILIATION_CRON: z.string().default("0 3 * * *"),
  /** When workers sync subscription plans from Stripe's prices (UTC; hourly), besides once at start. */
  PLANS_SYNC_CRON: z.string().default("0 * * * *"),
  RECONCILIATION_HEAL_WAIT_MS: int(60_000),
  /** How often a worker follows the balance-transaction stream between runs (fees, conversions); 0 = only in runs. */
  BALANCE_STREAM_INTERVAL_MS: int(60_000, 0),
  /** Where browsers reach the web (behind a proxy: its origin); default http://127.0.0.1:$PORT. */
  PUBLIC_URL: z.string().url().optional(),
  /** Where Stripe sends a user after onboarding, or to renew a link; default PUBLIC_URL's /connect pages. */
  CONNECT_RETURN_URL: z.string().url().optional(),
  CONNECT_REFRESH_URL: z.string().url().optional(),
  // Express: Stripe collects the bank account in onboarding. Custom: Coffer links it with
  // Financial Connections and attaches it as the connected account's external account.
  CONNECT_ACCOUNT_TYPE: z.enum(["express", "custom"]).default("express"),
  // False: a withdrawal draws only on funds Stripe has made available (SPEC → Ledger → Settling).
  // True: on all of available, for platforms that carry the risk of paying out pending card funds.
  WITHDRAW_UNSETTLED: bool.default(false),
  // `{name}` (a hash tag) is required on a cluster, and its default there.
  QUEUE_PREFIX: z
    .string()
    .regex(/^([a-zA-Z0-9_-]+|\{[a-zA-Z0-9_-]+\})$/, "must be letters, digits, _ or -, or those in {braces}")
    .default("coffer"),
  WORKER_QUEUES: z
    .string()
    .default(QUEUE_NAMES.join(","))
    .transform((s) =>
      s
        .split(",")
        .map((q) => q.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(QUEUE_NAMES)).min(1)),
  WORKER_CONCURRENCY: int(8, 1),
  JOB_ATTEMPTS: int(8, 1),
  JOB_BACKOFF_MS: int(1000, 1),
  JOB_LOCK_MS: int(30_000, 1000),
  SWEEP_INTERVAL_MS: int(10_000, 100),
  SWEEP_AFTER_MS: int(30_000, 0),
  /** Group commit (src/db/group-commit.ts): how long a batch gathers, and its size; 1 turns it off. */
  GROUP_COMMIT_WINDOW_MS: int(2, 0),
  GROUP_COMMIT_MAX_BATCH: int(32, 1),
  WORKER_METRICS_PORT: int(9464),
});

export type Config = Omit<z.infer<typeof schema>, "DATABASE_OWNER_URL"> & {
  /** Who migrations run as (they own the tables); see databaseOwnerUrl. */
  DATABASE_OWNER_URL: string;
  stripeOffline: boolean;
};

/** Parses the environment; throws ConfigError listing every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  if (env.NODE_ENV === "production" && !env.STRIPE_SECRET_KEY) {
    throw new ConfigError([
      "STRIPE_SECRET_KEY: required in production (offline stand-in mode is for development)",
    ]);
  }
  const offline = !env.STRIPE_SECRET_KEY;
  // Offline (no Stripe key) runs against the in-repo stand-in, so dev secrets are allowed there only;
  // on a cluster the queue prefix defaults to a hash tag.
  const withDefaults = {
    ...(offline && { STRIPE_WEBHOOK_SECRET: OFFLINE_WEBHOOK_SECRET, AUTH_JWT_SECRET: OFFLINE_JWT_SECRET }),
    ...(env.REDIS_CLUSTER_NODES && { QUEUE_PREFIX: CLUSTER_QUEUE_PREFIX }),
    ...stripEmpty(env),
  };
  const parsed = schema.safeParse(withDefaults);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new ConfigError(lines);
  }
  if (parsed.data.REDIS_CLUSTER_NODES && !HASH_TAGGED.test(parsed.data.QUEUE_PREFIX))
    throw new ConfigError([
      `QUEUE_PREFIX: must be a hash tag such as ${CLUSTER_QUEUE_PREFIX} on a Redis Cluster, so BullMQ's keys share one slot`,
    ]);
  return { ...parsed.data, DATABASE_OWNER_URL: databaseOwnerUrl(env), stripeOffline: offline };
}

/**
 * DATABASE_OWNER_URL, else DATABASE_URL (one URL for both, as on a machine with a single
 * role; the app then runs as the owner and the migrator warns), else the developer default.
 * A function of the environment alone, so `npm run db:migrate` needs none of the app's secrets.
 */
export function databaseOwnerUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_OWNER_URL || env.DATABASE_URL || DEV_DATABASE_OWNER_URL;
}

/** DATABASE_URL or its developer default, likewise without the rest of the configuration. */
export const databaseUrl = (env: NodeJS.ProcessEnv = process.env): string =>
  env.DATABASE_URL || DEV_DATABASE_URL;

function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => !!e[1]));
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/** Entry points call this: print the problems and exit non-zero rather than limp on. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`coffer: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
