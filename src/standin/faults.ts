import { z } from "zod";
import { StripeApiError } from "./errors.js";
import { rateLimitError } from "./rate-limits.js";

/** Body of `POST /_standin/faults`; typed against FaultSpec so the two cannot drift. */
export const faultSpecSchema: z.ZodType<FaultSpec> = z.strictObject({
  method: z.string().optional(),
  pathPrefix: z.string().startsWith("/"),
  kind: z.enum(["429", "500", "balance_insufficient", "drop_after", "delay"]),
  times: z.number().int().positive().optional(),
  delayMs: z.number().int().min(0).max(60_000).optional(),
});

export interface FaultSpec {
  /** Default: any method. */
  method?: string;
  /** e.g. "/v1/payment_intents" */
  pathPrefix: string;
  /**
   * drop_after: perform the action, then destroy the socket without responding.
   * delay: hold the request for `delayMs`, then handle it normally (a slow Stripe, for in-flight tests).
   */
  kind: "429" | "500" | "balance_insufficient" | "drop_after" | "delay";
  /** Default 1. */
  times?: number;
  /** delay only; default 1000. */
  delayMs?: number;
}
export type FaultKind = FaultSpec["kind"];

export const DEFAULT_DELAY_MS = 1000;

/** Faults armed by tests; each matching API request consumes one use of the first match. */
export class Faults {
  #armed: Array<{ spec: FaultSpec; remaining: number }> = [];

  inject(spec: FaultSpec): void {
    this.#armed.push({ spec, remaining: spec.times ?? 1 });
  }

  clear(): void {
    this.#armed = [];
  }

  take(method: string, path: string): FaultSpec | undefined {
    const hit = this.#armed.find(
      ({ spec }) =>
        (spec.method === undefined || spec.method.toUpperCase() === method) &&
        path.startsWith(spec.pathPrefix),
    );
    if (!hit) return undefined;
    hit.remaining -= 1;
    if (hit.remaining <= 0) this.#armed = this.#armed.filter((f) => f !== hit);
    return hit.spec;
  }
}

/**
 * The response for an error fault. None is saved under the idempotency key (saveIdempotent
 * false): the fault stands for a transient condition, and a retry with the same key must be able
 * to get past it, which is what Coffer's retry logic is tested against.
 */
export function faultError(kind: Exclude<FaultKind, "drop_after" | "delay">): StripeApiError {
  switch (kind) {
    case "429":
      return rateLimitError();
    case "500":
      return new StripeApiError(500, { type: "api_error", message: "An unknown error occurred" }, false);
    case "balance_insufficient":
      return new StripeApiError(
        400,
        {
          type: "invalid_request_error",
          code: "balance_insufficient",
          message:
            "You have insufficient available funds in your Stripe account. Try adding funds directly " +
            "to your available balance by creating Charges using the 4000000000000077 test card.",
        },
        false,
      );
  }
}
