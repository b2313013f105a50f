/**
 * Stripe's error shape and statuses. The stripe client picks its error class from the status
 * (400/404 invalid request or idempotency, 401 auth, 402 card, 429 rate limit, else API error),
 * so the status matters as much as the body.
 */
export type StripeErrorType = "invalid_request_error" | "card_error" | "idempotency_error" | "api_error";

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
  [extra: string]: unknown;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    /**
     * Stripe saves an idempotent result only once an endpoint started executing; a request that
     * failed parameter validation saves nothing, so a corrected retry with the same key works.
     */
    readonly saveIdempotent = true,
  ) {
    super(body.message);
  }
}

export function errorPayload(err: StripeApiError): { error: StripeErrorBody } {
  const { code } = err.body;
  return { error: code ? { doc_url: `https://stripe.com/docs/error-codes/${code}`, ...err.body } : err.body };
}

/** Parameter problems found before the endpoint runs (not saved under an idempotency key). */
export function paramError(message: string, param: string, code = "parameter_invalid"): StripeApiError {
  return new StripeApiError(400, { type: "invalid_request_error", code, message, param }, false);
}

export function invalidRequest(message: string, extra: Partial<StripeErrorBody> = {}): StripeApiError {
  return new StripeApiError(400, { type: "invalid_request_error", message, ...extra });
}

export function resourceMissing(objectName: string, id: string, param = "id"): StripeApiError {
  return new StripeApiError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such ${objectName}: '${id}'`,
    param,
  });
}

export function unexpectedState(message: string, extra: Partial<StripeErrorBody> = {}): StripeApiError {
  return invalidRequest(message, { code: "payment_intent_unexpected_state", ...extra });
}
