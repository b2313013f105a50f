import { error, list, ok, user } from "./openapi-parts.js";

/**
 * Connect and bank accounts (SPEC → Connect, Bank accounts): payouts go to the connected account's
 * external bank account. Express accounts' is collected by Stripe; a Custom platform links one with
 * Financial Connections and Coffer attaches it.
 */
export const CONNECT_PATHS = {
  "/v1/connect/account": {
    post: {
      ...user,
      summary:
        "Create (once) the caller's connected account (Express, or Custom with CONNECT_ACCOUNT_TYPE=custom) and a fresh onboarding link",
      responses: {
        "200": ok({
          type: "object",
          properties: { account_id: { type: "string" }, onboarding_url: { type: "string" } },
        }),
        "401": error,
        "502": error,
        "503": error,
      },
    },
    get: {
      ...user,
      summary: "The caller's connected account state",
      responses: {
        "200": ok({
          type: "object",
          properties: {
            account_id: { type: "string" },
            charges_enabled: { type: "boolean" },
            payouts_enabled: { type: "boolean" },
            requirements_due: { type: "array", items: { type: "string" } },
          },
        }),
        "401": error,
        "404": error,
      },
    },
  },
  "/v1/bank-accounts/session": {
    post: {
      ...user,
      summary:
        "A Stripe Financial Connections session for linking the payout bank account of a Custom connected account (no body: numbers are never accepted). The linked bank becomes the account's default external account for its currency.",
      description:
        "409 `connect_account_required` before onboarding. 409 `bank_managed_by_stripe` for an Express account: Stripe collects its bank account in the onboarding link from POST /v1/connect/account, and the user changes it in Stripe's Express dashboard.",
      responses: {
        "200": ok({
          type: "object",
          properties: { session_id: { type: "string" }, client_secret: { type: "string" } },
        }),
        "401": error,
        "409": error,
        "422": error,
        "502": error,
        "503": error,
      },
    },
  },
  "/v1/bank-accounts": {
    get: {
      ...user,
      summary:
        "The connected account's external bank accounts, where payouts go, mirrored from Stripe: references, last4 and bank name only",
      responses: { "200": ok(list("BankAccount")), "401": error },
    },
  },
};

export const CONNECT_SCHEMAS = {
  BankAccount: {
    type: "object",
    properties: {
      id: { type: "string", description: "Coffer's id of the row" },
      external_account_id: { type: "string", description: "Stripe's external account (`ba_…`)" },
      financial_connections_account_id: {
        type: ["string", "null"],
        description: "The Financial Connections account (`fca_…`) it was attached from (Custom accounts)",
      },
      last4: { type: ["string", "null"] },
      bank_name: { type: ["string", "null"] },
      currency: { type: "string", pattern: "^[a-z]{3}$" },
      status: {
        type: "string",
        description: "Stripe's: `new`, `errored` (a payout bounced), `verification_failed`, …",
      },
      default_for_currency: {
        type: "boolean",
        description: "Payouts in its currency go here",
      },
      created_at: { type: "string", format: "date-time" },
    },
  },
};
