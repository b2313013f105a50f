/**
 * Runs the Stripe stand-in on its own, for offline runs and the demo. Its defaults are Coffer's
 * offline defaults, so `npm run start:standin` beside `npm run start:web` and `start:worker` (or
 * a Procfile runner) needs no configuration: the same environment serves all of them.
 *   STANDIN_PORT           default: the port of STRIPE_API_BASE, else 12111
 *   STANDIN_HOST           interface to bind, default 127.0.0.1 (docker-compose uses 0.0.0.0)
 *   STRIPE_WEBHOOK_URL     where to deliver events; default http://127.0.0.1:$PORT/webhooks/stripe
 *                          (PORT as the web reads it, default 3000); `none` delivers nothing
 *                          (settable later via POST /_standin/webhook)
 *   STRIPE_WEBHOOK_SECRET  signing secret; the first entry when comma-separated, matching the
 *                          secret Coffer tries first; default Coffer's offline one (src/offline.ts)
 *   STANDIN_CONNECT_WEBHOOK_SECRET  signs events of connected accounts, as Stripe's separate Connect
 *                          endpoint does; unset, STRIPE_WEBHOOK_SECRET's first entry signs them too.
 *                          Coffer accepts any entry of its STRIPE_WEBHOOK_SECRET list, so list both there.
 *   STANDIN_SETTLEMENT_CURRENCIES  comma-separated, default first (e.g. `usd`): charges in other
 *                          currencies settle converted; unset, every currency settles as itself
 *   STANDIN_RATE_LIMITS    test | live | off: Stripe's per-account (25/s sandbox, 100/s live) and
 *                          per-endpoint (25/s) limits; default DEFAULT_RATE_LIMITS in src/standin/rate-limits.ts
 */
import { pino } from "pino";
import { OFFLINE_STRIPE_API_BASE } from "../src/offline.js";
import { DEFAULT_RATE_LIMITS, parseRateLimitMode, startStandin } from "../src/standin/index.js";
import type { RateLimitMode } from "../src/standin/index.js";

const logger = pino({ name: "stripe-standin", level: process.env.LOG_LEVEL ?? "info" });

// Where Coffer is told Stripe is (STRIPE_API_BASE) is where the stand-in listens, unless told apart.
const apiBasePort = URL.parse(process.env.STRIPE_API_BASE || OFFLINE_STRIPE_API_BASE)?.port;
const port = Number(process.env.STANDIN_PORT || apiBasePort || 12111);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  logger.error({ STANDIN_PORT: process.env.STANDIN_PORT }, "STANDIN_PORT must be a port number");
  process.exit(1);
}
const secret = process.env.STRIPE_WEBHOOK_SECRET?.split(",")[0]?.trim() || undefined;
const webhookUrlSetting =
  process.env.STRIPE_WEBHOOK_URL || `http://127.0.0.1:${process.env.PORT || 3000}/webhooks/stripe`;
const webhookUrl = webhookUrlSetting === "none" ? undefined : webhookUrlSetting;

const connectSecret = process.env.STANDIN_CONNECT_WEBHOOK_SECRET?.trim() || undefined;
let rateLimits: RateLimitMode = DEFAULT_RATE_LIMITS;
try {
  const raw = process.env.STANDIN_RATE_LIMITS?.trim();
  if (raw) rateLimits = parseRateLimitMode(raw, "STANDIN_RATE_LIMITS");
} catch (err) {
  logger.error({ STANDIN_RATE_LIMITS: process.env.STANDIN_RATE_LIMITS }, String(err));
  process.exit(1);
}

const bindHost = process.env.STANDIN_HOST || "127.0.0.1";
const settlementCurrencies = process.env.STANDIN_SETTLEMENT_CURRENCIES?.split(",")
  .map((c) => c.trim())
  .filter((c) => c !== "");
const standin = await startStandin({
  port,
  bindHost,
  webhookUrl,
  webhookSecret: secret,
  connectWebhookSecret: connectSecret,
  rateLimits,
  logger,
  ...(settlementCurrencies?.length ? { settlementCurrencies } : {}),
});
logger.info(
  {
    url: standin.url,
    webhookUrl: webhookUrl ?? null,
    settlementCurrencies: settlementCurrencies ?? null,
    rateLimits,
    connectSecret: connectSecret !== undefined,
  },
  `Stripe stand-in listening on ${standin.url}`,
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "stand-in shutting down");
    void standin.close().then(() => process.exit(0));
  });
}
