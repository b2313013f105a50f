import { pino, type Logger } from "pino";

export type { Logger };

/**
 * The one root logger. Everything else uses child loggers that carry
 * `request_id`, `event_id` and `job_id`. Credentials never reach a log line:
 * Authorization headers and Stripe signatures are redacted wherever they appear.
 */
export function createLogger(level: string, name = "coffer"): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers['stripe-signature']",
        "headers.authorization",
        "headers['stripe-signature']",
        "*.client_secret",
        "client_secret",
      ],
      censor: "[redacted]",
    },
  });
}
