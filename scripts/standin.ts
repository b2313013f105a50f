/**
 * Runs the Stripe stand-in on its own, for offline runs and the demo.
 *   STANDIN_PORT           default 12111
 *   STANDIN_HOST           interface to bind, default 127.0.0.1 (docker-compose uses 0.0.0.0)
 *   STRIPE_WEBHOOK_URL     where to deliver events (optional; settable later via POST /_standin/webhook)
 *   STRIPE_WEBHOOK_SECRET  signing secret; the first entry when comma-separated, matching the
 *                          secret Coffer tries first
 *   STANDIN_SETTLEMENT_CURRENCIES  comma-separated, default first (e.g. `usd`): charges in other
 *                          currencies settle converted; unset, every currency settles as itself
 */
import { pino } from "pino";
import { startStandin } from "../src/standin/index.js";

const logger = pino({ name: "stripe-standin", level: process.env.LOG_LEVEL ?? "info" });

const port = Number(process.env.STANDIN_PORT ?? 12111);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  logger.error({ STANDIN_PORT: process.env.STANDIN_PORT }, "STANDIN_PORT must be a port number");
  process.exit(1);
}
const secret = process.env.STRIPE_WEBHOOK_SECRET?.split(",")[0]?.trim() || undefined;
const webhookUrl = process.env.STRIPE_WEBHOOK_URL || undefined;

const bindHost = process.env.STANDIN_HOST || "127.0.0.1";
const settlementCurrencies = process.env.STANDIN_SETTLEMENT_CURRENCIES?.split(",")
  .map((c) => c.trim())
  .filter((c) => c !== "");
const standin = await startStandin({
  port,
  bindHost,
  webhookUrl,
  webhookSecret: secret,
  logger,
  ...(settlementCurrencies?.length ? { settlementCurrencies } : {}),
});
logger.info(
  { url: standin.url, webhookUrl: webhookUrl ?? null, settlementCurrencies: settlementCurrencies ?? null },
  `Stripe stand-in listening on ${standin.url}`,
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "stand-in shutting down");
    void standin.close().then(() => process.exit(0));
  });
}
