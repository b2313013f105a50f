import { StripeApiError } from "./errors.js";
import type { FormValue } from "./form.js";

/** A response as sent, kept byte for byte so a replay is indistinguishable from the original. */
export interface StoredResponse {
  status: number;
  body: string;
}

interface Entry {
  method: string;
  path: string;
  fingerprint: string;
  /** Undefined while the first request is still executing. */
  response?: StoredResponse;
}

export type Begin =
  | { kind: "execute" }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "refuse"; error: StripeApiError };

/** Sorted keys, so the same params in a different order are the same request. */
function canonical(value: FormValue | undefined): string {
  if (value === undefined || typeof value === "string") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

function idempotencyError(status: number, message: string): StripeApiError {
  return new StripeApiError(status, { type: "idempotency_error", message }, false);
}

/**
 * Stripe's idempotency layer. Keys are scoped per account (the `Stripe-Account` header, or the
 * platform) because Stripe scopes them that way: the same key on two accounts is two requests.
 * Keys never expire unless expire() is called, standing in for Stripe's 24-hour window.
 */
export class IdempotencyStore {
  readonly #entries = new Map<string, Entry>();

  begin(scope: string, key: string, method: string, path: string, params: FormValue): Begin {
    const id = `${scope}\u0000${key}`;
    const fingerprint = canonical(params);
    const entry = this.#entries.get(id);
    if (!entry) {
      this.#entries.set(id, { method, path, fingerprint });
      return { kind: "execute" };
    }
    if (entry.method !== method || entry.path !== path) {
      const message =
        `Keys for idempotent requests can only be used for the same endpoint they were first used for ` +
        `('${entry.method} ${entry.path}' vs '${method} ${path}'). ` +
        `Try using a key other than '${key}' if you meant to execute a different request.`;
      return { kind: "refuse", error: idempotencyError(400, message) };
    }
    if (entry.fingerprint !== fingerprint) {
      const message =
        `Keys for idempotent requests can only be used with the same parameters they were first used with. ` +
        `Try using a key other than '${key}' if you meant to execute a different request.`;
      return { kind: "refuse", error: idempotencyError(400, message) };
    }
    if (!entry.response) {
      const message =
        `There is currently another in-progress request using this Stripe token (probably the same ` +
        `idempotency key: '${key}'). Please try again later.`;
      return { kind: "refuse", error: idempotencyError(409, message) };
    }
    return { kind: "replay", response: entry.response };
  }

  /** Saves the result, or forgets the key when the result must not be saved (so a retry runs). */
  finish(scope: string, key: string, response: StoredResponse | undefined): void {
    const id = `${scope}\u0000${key}`;
    const entry = this.#entries.get(id);
    if (!entry) return;
    if (response) entry.response = response;
    else this.#entries.delete(id);
  }

  /** Forgets every completed key, as if Stripe's 24-hour window had passed. */
  expire(): void {
    for (const [id, entry] of this.#entries) if (entry.response) this.#entries.delete(id);
  }
}
