import { z } from "zod";
import { CURRENCIES } from "./money/currencies.js";

/**
 * All configuration comes from the environment and is validated once at boot.
 * A bad value stops the process with one line per problem instead of failing
 * later inside a request or a job.
 */

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
  DATABASE_URL: z.string().url().default("postgres://root@127.0.0.1:5432/coffer"),
  REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
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
  AUTH_MAX_TOKEN_LIFETIME_S: int(86_400, 1),
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
  RATE_LIMIT_PER_MINUTE: int(60),
  RECONCILIATION_CRON: z.string().default("0 3 * * *"),
  RECONCILIATION_HEAL_WAIT_MS: int(60_000),
  /** How often a worker follows the balance-transaction stream between runs (fees, conversions); 0 = only in runs. */
  BALANCE_STREAM_INTERVAL_MS: int(60_000, 0),
  CONNECT_RETURN_URL: z.string().url().default("http://127.0.0.1:3000/connect/return"),
  CONNECT_REFRESH_URL: z.string().url().default("http://127.0.0.1:3000/connect/refresh"),
  // Express: Stripe collects the bank account in onboarding. Custom: Coffer links it with
  // Financial Connections and attaches it as the connected account's external account.
  CONNECT_ACCOUNT_TYPE: z.enum(["express", "custom"]).default("express"),
  // False: a withdrawal draws only on funds Stripe has made available (SPEC → Ledger → Settling).
  // True: on all of available, for platforms that carry the risk of paying out pending card funds.
  WITHDRAW_UNSETTLED: bool.default(false),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_-]+$/)
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
  WORKER_METRICS_PORT: int(9464),
});

export type Config = z.infer<typeof schema> & { stripeOffline: boolean };

/** Parses the environment; throws ConfigError listing every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  if (env.NODE_ENV === "production" && !env.STRIPE_SECRET_KEY) {
    throw new ConfigError([
      "STRIPE_SECRET_KEY: required in production (offline stand-in mode is for development)",
    ]);
  }
  const offline = !env.STRIPE_SECRET_KEY;
  // Offline (no Stripe key) runs against the in-repo stand-in, so dev secrets are allowed there only.
  const withDefaults = offline
    ? {
        STRIPE_WEBHOOK_SECRET: "whsec_offline_coffer_dev_secret",
        AUTH_JWT_SECRET: "offline-dev-secret-change-me",
        ...stripEmpty(env),
      }
    : stripEmpty(env);
  const parsed = schema.safeParse(withDefaults);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new ConfigError(lines);
  }
  return { ...parsed.data, stripeOffline: offline };
}

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
