import { WITHDRAWAL_STATUSES } from "../db/stores/withdrawals.js";
import { ERROR_CODES } from "./errors.js";

/**
 * The OpenAPI description served at /openapi.json. Kept beside the routes and
 * checked by test/openapi.test.ts against the router, so a route cannot ship
 * without being described.
 */
import { error, money, page, moneyBody, idemKey, list, ok, user, admin, pathId } from "./openapi-parts.js";
import { CONNECT_PATHS, CONNECT_SCHEMAS } from "./openapi-connect.js";
import { RECONCILIATION_PATHS } from "./openapi-reconciliation.js";

export const OPENAPI = {
  openapi: "3.1.0",
  info: {
    title: "Coffer",
    version: "0.1.0",
    description:
      "Stripe-backed multi-currency wallets on a double-entry ledger. Amounts are integers of minor units.",
  },
  paths: {
    "/webhooks/stripe": {
      post: {
        summary:
          "Stripe webhook endpoint: verifies the signature over the raw body, stores the event, enqueues it, answers 200",
        description:
          "Without a Stripe-Signature header the body is not read (400 webhook_signature_missing); the body must arrive within WEBHOOK_BODY_TIMEOUT_MS (400 body_timeout). A signature timestamp outside the tolerance, past or future, is 400 webhook_timestamp_stale. A validly signed body that cannot be stored as an event (not JSON, not an envelope, NUL or lone surrogate escapes, a fractional or out-of-range `created`, an unusable id or type, deep nesting) is kept raw, marked failed, alerted and answered 200, so Stripe does not retry it. An event id seen again with a different payload is answered 200 `duplicate: true` and changes nothing.",
        parameters: [{ name: "Stripe-Signature", in: "header", required: true, schema: { type: "string" } }],
        requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
        responses: {
          "200": ok({
            type: "object",
            properties: { received: { type: "boolean" }, duplicate: { type: "boolean" } },
          }),
          "400": error,
          "413": error,
          "503": error,
        },
      },
    },
    "/v1/wallet": {
      get: {
        ...user,
        summary: "The caller's balances; answers If-None-Match with 304",
        responses: {
          "200": ok({ $ref: "#/components/schemas/Wallet" }),
          "304": { description: "Not modified" },
          "401": error,
        },
      },
    },
    "/v1/wallet/ledger": {
      get: {
        ...user,
        summary: "The caller's ledger entries, newest first",
        parameters: [
          ...page,
          { name: "currency", in: "query", schema: { type: "string" } },
          { name: "account", in: "query", schema: { enum: ["available", "held"] } },
        ],
        responses: { "200": ok(list("LedgerEntry")), "400": error, "401": error },
      },
    },
    "/v1/wallet/top-ups": {
      post: {
        ...user,
        summary:
          "Start a top-up: creates a Stripe PaymentIntent; the wallet is credited when Stripe reports the payment",
        parameters: [idemKey],
        requestBody: moneyBody,
        responses: {
          "201": ok({ $ref: "#/components/schemas/CreatedTopUp" }, "Created"),
          "400": error,
          "401": error,
          "409": error,
          "422": error,
          "429": error,
          "502": error,
          "503": error,
        },
      },
      get: {
        ...user,
        summary: "The caller's top-ups, newest first",
        parameters: page,
        responses: { "200": ok(list("TopUp")), "401": error },
      },
    },
    "/v1/wallet/top-ups/{id}": {
      get: {
        ...user,
        summary: "One of the caller's top-ups (404 if it is someone else's)",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": ok({ $ref: "#/components/schemas/TopUp" }), "401": error, "404": error },
      },
    },
    "/admin/queues": {
      get: {
        summary:
          "Bull Board (HTML UI and its /api/*), admins only; a bearer token or the coffer_admin_token cookie. Actions are audited.",
        security: [{ bearer: [] }],
        responses: { "200": { description: "The Bull Board UI" }, "401": error, "403": error },
      },
    },
    "/v1/withdrawals": {
      post: {
        ...user,
        summary:
          "Request a withdrawal: holds the whole amount; the user receives amount − fee after admin approval. Draws only on settled funds (available − settling): beyond that, 409 `funds_not_settled` with `settles_at`",
        parameters: [idemKey],
        requestBody: moneyBody,
        responses: {
          "201": ok({ $ref: "#/components/schemas/CreatedWithdrawal" }, "Created"),
          "400": error,
          "401": error,
          "409": error,
          "422": error,
          "429": error,
        },
      },
      get: {
        ...user,
        summary: "The caller's withdrawals, newest first",
        parameters: page,
        responses: { "200": ok(list("Withdrawal")), "401": error },
      },
    },
    "/v1/withdrawals/{id}": {
      get: {
        ...user,
        summary: "One of the caller's withdrawals",
        parameters: [pathId],
        responses: { "200": ok({ $ref: "#/components/schemas/Withdrawal" }), "401": error, "404": error },
      },
    },
    "/v1/withdrawals/{id}/cancel": {
      post: {
        ...user,
        summary: "Cancel while pending_review; the hold is released",
        parameters: [pathId],
        responses: {
          "200": ok({ $ref: "#/components/schemas/Withdrawal" }),
          "401": error,
          "404": error,
          "409": error,
        },
      },
    },
    ...CONNECT_PATHS,
    "/admin/withdrawals": {
      get: {
        ...admin,
        summary: "Withdrawals, filtered by status",
        parameters: [...page, { name: "status", in: "query", schema: { type: "string" } }],
        responses: { "200": ok({ type: "object" }), "401": error, "403": error },
      },
    },
    "/admin/withdrawals/{id}/approve": {
      post: {
        ...admin,
        summary:
          "Approve; refused while the user's wallet is negative or a dispute of theirs is open or appealed; audited",
        parameters: [pathId],
        responses: { "200": ok({ type: "object" }), "401": error, "403": error, "404": error, "409": error },
      },
    },
    "/admin/withdrawals/{id}/reject": {
      post: {
        ...admin,
        summary: "Reject with a reason; releases the hold; audited",
        parameters: [pathId],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["reason"],
                additionalProperties: false,
                properties: { reason: { type: "string" } },
              },
            },
          },
        },
        responses: {
          "200": ok({ type: "object" }),
          "401": error,
          "403": error,
          "404": error,
          "409": error,
          "422": error,
        },
      },
    },
    "/admin/events": {
      get: {
        ...admin,
        summary:
          "Stored Stripe events, newest first, by status (received, enqueued, processing, processed, failed, ignored)",
        parameters: [...page, { name: "status", in: "query", schema: { type: "string" } }],
        responses: { "200": ok({ type: "object" }), "401": error, "403": error },
      },
    },
    "/admin/events/{id}/replay": {
      post: {
        ...admin,
        summary:
          "Re-open a failed (or ignored) event and enqueue it again; audited. Applying an event twice moves no money twice.",
        parameters: [pathId],
        responses: { "200": ok({ type: "object" }), "401": error, "403": error, "404": error, "409": error },
      },
    },
    "/admin/summary": {
      get: {
        ...admin,
        summary:
          "Totals per currency (users' available, held, pending; Stripe position; fees; dispute reserve), pending withdrawals, failed events, last reconciliation",
        responses: { "200": ok({ type: "object" }), "401": error, "403": error },
      },
    },
    "/admin/users/{id}/wallet": {
      get: {
        ...admin,
        summary: "A user's balances",
        parameters: [pathId],
        responses: { "200": ok({ $ref: "#/components/schemas/Wallet" }), "401": error, "403": error },
      },
    },
    "/admin/users/{id}/ledger": {
      get: {
        ...admin,
        summary: "A user's ledger entries, newest first",
        parameters: [pathId, ...page, { name: "currency", in: "query", schema: { type: "string" } }],
        responses: { "200": ok(list("LedgerEntry")), "401": error, "403": error },
      },
    },
    "/admin/ledger/check": {
      get: {
        ...admin,
        summary: "Every ledger invariant; 409 on a violation; lists negative wallets",
        responses: {
          "200": ok({ type: "object" }),
          "401": error,
          "403": error,
          "409": ok({ type: "object" }, "Violations"),
        },
      },
    },
    "/admin/audit-log": {
      get: {
        ...admin,
        summary: "The append-only admin audit log, newest first",
        parameters: page,
        responses: { "200": ok({ type: "object" }), "401": error, "403": error },
      },
    },
    ...RECONCILIATION_PATHS,
    "/healthz": { get: { summary: "Liveness", responses: { "200": ok({ type: "object" }) } } },
    "/readyz": {
      get: {
        summary: "Readiness: Postgres and Redis reachable",
        responses: { "200": ok({ type: "object" }), "503": ok({ type: "object" }, "Not ready") },
      },
    },
    "/metrics": {
      get: { summary: "Prometheus metrics", responses: { "200": { description: "text/plain exposition" } } },
    },
    "/openapi.json": { get: { summary: "This document", responses: { "200": ok({ type: "object" }) } } },
  },
  components: {
    securitySchemes: {
      bearer: {
        type: "http",
        scheme: "bearer",
        bearerFormat:
          "JWT (HS256; sub, exp; role=admin for admins). `sub` must be text Postgres can store (422 invalid_text otherwise); `exp` at most AUTH_MAX_TOKEN_LIFETIME_S away (401 otherwise)",
      },
    },
    responses: {
      Error: {
        description:
          "Error. On every route: 422 invalid_text for a NUL or lone surrogate in the path, a query parameter or a JSON body; 422 query_param_repeated for a query parameter given twice; 405 method_not_allowed; 501 not_implemented.",
        headers: {
          "Retry-After": {
            description:
              "Seconds to wait; sent with 429 `rate_limited` and with 503 `stripe_rate_limited` (Coffer's shared Stripe request budget is exhausted or Stripe answered 429)",
            schema: { type: "integer", minimum: 1 },
          },
        },
        content: {
          "application/json": {
            schema: {
              type: "object",
              required: ["error"],
              properties: {
                error: {
                  type: "object",
                  required: ["code", "message", "request_id"],
                  properties: {
                    code: { enum: ERROR_CODES, description: "The code → status table is src/http/errors.ts" },
                    message: { type: "string" },
                    request_id: { type: "string" },
                    retry_after_s: {
                      type: "integer",
                      description: "With `rate_limited` and `stripe_rate_limited`",
                    },
                    settles_at: {
                      type: ["string", "null"],
                      format: "date-time",
                      description:
                        "With `funds_not_settled`: when enough of the wallet will have settled at Stripe for this amount; null while Stripe has not yet reported when its newest card funds become available",
                    },
                    withdrawable_minor: {
                      type: "integer",
                      description:
                        "With `funds_not_settled`: what may be withdrawn now (available − settling)",
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    schemas: {
      ...CONNECT_SCHEMAS,
      CreatedWithdrawal: {
        type: "object",
        properties: {
          id: { type: "string" },
          status: { type: "string" },
          amount_minor: { type: "integer" },
          fee_minor: { type: "integer" },
          net_minor: { type: "integer" },
          currency: money.currency,
        },
      },
      Withdrawal: {
        type: "object",
        properties: {
          id: { type: "string" },
          status: { enum: WITHDRAWAL_STATUSES },
          amount_minor: { type: "integer" },
          fee_minor: { type: "integer" },
          net_minor: { type: "integer" },
          currency: money.currency,
          reason: { type: ["string", "null"] },
          created_at: { type: "string", format: "date-time" },
          updated_at: { type: "string", format: "date-time" },
        },
      },
      Wallet: {
        type: "object",
        properties: {
          user_id: { type: "string" },
          balances: {
            type: "array",
            items: {
              type: "object",
              properties: {
                currency: money.currency,
                available_minor: { type: "integer" },
                pending_minor: { type: "integer" },
                held_minor: { type: "integer" },
                settling_minor: {
                  type: "integer",
                  minimum: 0,
                  description:
                    "The part of available_minor that Stripe still holds as pending (a card payment's funds before its balance transaction's available_on, or before Stripe has reported it); falls to 0 as funds settle. A withdrawal draws only on available_minor − settling_minor unless WITHDRAW_UNSETTLED=true",
                },
              },
            },
          },
        },
      },
      LedgerEntry: {
        type: "object",
        properties: {
          id: { type: "string" },
          transaction_id: { type: "string" },
          account: { enum: ["available", "held"] },
          currency: money.currency,
          amount_minor: { type: "integer", description: "Signed: positive moved in, negative moved out" },
          kind: { type: "string" },
          source_id: { type: "string", description: "The Stripe or Coffer object the movement belongs to" },
          created_at: { type: "string", format: "date-time" },
        },
      },
      CreatedTopUp: {
        type: "object",
        properties: {
          id: { type: "string" },
          payment_intent_id: { type: "string" },
          client_secret: { type: "string" },
          amount_minor: { type: "integer" },
          currency: money.currency,
          status: { type: "string" },
        },
      },
      TopUp: {
        type: "object",
        properties: {
          id: { type: "string" },
          payment_intent_id: { type: ["string", "null"] },
          amount_minor: { type: "integer" },
          currency: money.currency,
          status: { type: "string" },
          amount_received_minor: { type: "integer" },
          pending_minor: { type: "integer" },
          refunded_minor: { type: "integer" },
          created_at: { type: "string", format: "date-time" },
        },
      },
    },
  },
} as const;
