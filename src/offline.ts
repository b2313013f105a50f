/**
 * What an offline run (no STRIPE_SECRET_KEY) uses unless told otherwise. One copy, so that the
 * stand-in signs its webhooks with the very secret Coffer verifies them with: `npm run
 * start:standin` beside `npm run start:web` (or a Procfile runner) works with no configuration.
 */

/** Where the offline stand-in listens unless STRIPE_API_BASE says otherwise. */
export const OFFLINE_STRIPE_API_BASE = "http://127.0.0.1:12111";

/** STRIPE_WEBHOOK_SECRET's offline default, and the stand-in's signing secret's default. */
export const OFFLINE_WEBHOOK_SECRET = "whsec_offline_coffer_dev_secret";

/** AUTH_JWT_SECRET's offline default; tokens signed with it are refused once a Stripe key is set. */
export const OFFLINE_JWT_SECRET = "offline-dev-secret-change-me";
