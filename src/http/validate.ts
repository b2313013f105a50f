import { currencyInfo, isKnownCurrency, type Currency } from "../money/currencies.js";
import { httpError } from "./errors.js";

/**
 * Request validation with precise error codes. Schemas are strict: a field the
 * route does not define is refused, so status, owner or fee can never be
 * smuggled in by a client.
 */
export function objectWithOnly(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw httpError("bad_request", "body must be a JSON object");
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw httpError("unknown_field", `unknown field${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      fields: unknown,
    });
  }
  return body as Record<string, unknown>;
}

/** A positive safe integer of minor units. Strings, floats, zero, negatives and ≥ 2^53 each get their own code. */
export function amountMinor(value: unknown, field = "amount_minor"): number {
  if (value === undefined) throw httpError("field_required", `${field} is required`, { param: field });
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw httpError(
      "amount_invalid_type",
      `${field} must be a JSON integer of minor units, not ${typeof value === "string" ? "a string" : String(value)}`,
      { param: field },
    );
  }
  if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER) {
    throw httpError("amount_too_large", `${field} must be below 2^53`, { param: field });
  }
  if (!Number.isInteger(value))
    throw httpError("amount_not_integer", `${field} must be an integer number of minor units`, {
      param: field,
    });
  if (value <= 0)
    throw httpError("amount_not_positive", `${field} must be greater than zero`, { param: field });
  if (!Number.isSafeInteger(value))
    throw httpError("amount_too_large", `${field} must be below 2^53`, { param: field });
  return value;
}

/** A lowercase ISO 4217 code that Coffer knows and this deployment's wallets hold. */
export function walletCurrency(
  value: unknown,
  walletCurrencies: readonly string[],
  field = "currency",
): Currency {
  if (value === undefined) throw httpError("field_required", `${field} is required`, { param: field });
  if (typeof value !== "string" || !/^[a-z]{3}$/.test(value)) {
    throw httpError("currency_invalid", `${field} must be a lowercase three-letter ISO 4217 code`, {
      param: field,
    });
  }
  if (!isKnownCurrency(value))
    throw httpError("currency_unknown", `unknown currency ${value}`, { param: field });
  if (!walletCurrencies.includes(value)) {
    throw httpError("currency_not_supported", `wallets do not hold ${value}`, {
      param: field,
      supported: walletCurrencies,
    });
  }
  return value;
}

/** Stripe's per-charge limits for a currency; below or above them Stripe would refuse the charge. */
export function withinChargeLimits(amount: number, currency: Currency): void {
  const { minChargeMinor, maxChargeMinor, exponent } = currencyInfo(currency);
  if (amount < minChargeMinor) {
    throw httpError(
      "amount_below_minimum",
      `the minimum top-up in ${currency} is ${minChargeMinor} minor units`,
      { min_minor: minChargeMinor },
    );
  }
  if (amount > maxChargeMinor) {
    throw httpError(
      "amount_above_maximum",
      `the maximum top-up in ${currency} is ${maxChargeMinor} minor units`,
      { max_minor: maxChargeMinor },
    );
  }
  // Stripe only charges three-decimal currencies in multiples of 10 minor units.
  if (exponent === 3 && amount % 10 !== 0)
    throw httpError("amount_not_integer", `${currency} amounts must be multiples of 10 minor units`);
}

export interface Page {
  limit: number;
  startingAfter?: string;
}

/** Stripe-style cursor parameters: `limit` 1–100 (default 10), `starting_after` an id from the previous page. */
export function pageParams(query: Record<string, unknown>, allowed: readonly string[] = []): Page {
  objectWithOnly(query, ["limit", "starting_after", ...allowed]);
  const rawLimit = query.limit;
  let limit = 10;
  if (rawLimit !== undefined) {
    if (
      typeof rawLimit !== "string" ||
      !/^\d{1,3}$/.test(rawLimit) ||
      Number(rawLimit) < 1 ||
      Number(rawLimit) > 100
    ) {
      throw httpError("invalid_field", "limit must be an integer from 1 to 100", { param: "limit" });
    }
    limit = Number(rawLimit);
  }
  const sa = query.starting_after;
  if (sa !== undefined && (typeof sa !== "string" || sa.length === 0 || sa.length > 100)) {
    throw httpError("invalid_cursor", "starting_after must be an id from a previous page", {
      param: "starting_after",
    });
  }
  return sa === undefined ? { limit } : { limit, startingAfter: sa };
}
