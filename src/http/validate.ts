import { z } from "zod";
import { currencyInfo, isKnownCurrency, type Currency } from "../money/currencies.js";
import type { DomainError } from "../ledger/errors.js";
import { httpError } from "./errors.js";

/**
 * Request validation. A zod schema decides what a field accepts, and the same schema is what
 * /openapi.json shows for it (src/http/openapi/). Schemas are strict: a field the route does
 * not define is refused, so status, owner or fee can never be smuggled in by a client. SPEC
 * wants a precise code per refusal (`amount_not_integer`, not "invalid"), so a field may name
 * its own with `coded`; any other refusal is `field_required` or `invalid_field`.
 */
type Explain = (value: unknown, field: string) => DomainError;
const explanations = z.registry<{ explain: Explain }>();

/** Gives a field schema its own error: `explain` picks the code from the refused value. */
export function coded<T extends z.ZodType>(schema: T, explain: Explain): T {
  explanations.add(schema, { explain });
  return schema;
}

/** One code and message for every way the field can be wrong. */
export const codedAs = <T extends z.ZodType>(schema: T, code: string, message: string): T =>
  coded(schema, (_value, field) => httpError(code, message, { param: field }));

function explanationOf(schema: z.ZodType | undefined): Explain | undefined {
  for (let s = schema; s; s = (s.def as { innerType?: z.ZodType }).innerType) {
    const found = explanations.get(s);
    if (found) return found.explain;
  }
  return undefined;
}

/** Unknown keys first, then the first field zod refuses, in the schema's order of fields. */
export function parseInput<S extends z.ZodObject>(schema: S, input: unknown): z.output<S> {
  const record = objectWithOnly(input, Object.keys(schema.shape));
  const parsed = schema.safeParse(record);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? "");
  const value = record[field];
  if (value === undefined && field !== "")
    throw httpError("field_required", `${field} is required`, { param: field });
  const explain = explanationOf(schema.shape[field] as z.ZodType | undefined);
  if (explain) throw explain(value, field);
  throw httpError("invalid_field", `${field || "body"}: ${issue.message}`, field ? { param: field } : {});
}

/** A JSON object with no key outside `allowed`. */
function objectWithOnly(body: unknown, allowed: readonly string[]): Record<string, unknown> {
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

/** Strings, floats, zero, negatives and ≥ 2^53 each get their own code. */
function explainAmount(value: unknown, field: string): DomainError {
  if (typeof value !== "number" || Number.isNaN(value)) {
    const got = typeof value === "string" ? "a string" : String(value);
    return httpError("amount_invalid_type", `${field} must be a JSON integer of minor units, not ${got}`, {
      param: field,
    });
  }
  if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER)
    return httpError("amount_too_large", `${field} must be below 2^53`, { param: field });
  if (!Number.isInteger(value))
    return httpError("amount_not_integer", `${field} must be an integer number of minor units`, {
      param: field,
    });
  return httpError("amount_not_positive", `${field} must be greater than zero`, { param: field });
}

/** A positive safe integer of minor units. */
export const amountMinorField = coded(
  z.int().min(1).max(Number.MAX_SAFE_INTEGER).meta({ description: "A positive integer of minor units" }),
  explainAmount,
);

/** A lowercase ISO 4217 code that Coffer knows (src/money/currencies.ts). */
export const currencyField = coded(
  z
    .string()
    .regex(/^[a-z]{3}$/)
    .refine(isKnownCurrency)
    .meta({ description: "A lowercase ISO 4217 code" }),
  (value, field) =>
    typeof value === "string" && /^[a-z]{3}$/.test(value)
      ? httpError("currency_unknown", `unknown currency ${value}`, { param: field })
      : httpError("currency_invalid", `${field} must be a lowercase three-letter ISO 4217 code`, {
          param: field,
        }),
) as z.ZodType<Currency, string>;

/** The body of both money-moving routes: amount and currency, nothing else. */
export const moneyBody = z.strictObject({ amount_minor: amountMinorField, currency: currencyField });

/** Wallets hold only this deployment's WALLET_CURRENCIES (a setting, so not in the static schema). */
export function requireWalletCurrency(
  currency: Currency,
  walletCurrencies: readonly string[],
  field = "currency",
): Currency {
  if (!walletCurrencies.includes(currency)) {
    throw httpError("currency_not_supported", `wallets do not hold ${currency}`, {
      param: field,
      supported: walletCurrencies,
    });
  }
  return currency;
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

/** Query strings carry text: `limit` is a number only when it is one to three digits. */
const digits = (v: unknown) => (typeof v === "string" && /^\d{1,3}$/.test(v) ? Number(v) : v);

/** Stripe-style cursor parameters: `limit` 1–100 (default 10), `starting_after` an id from the previous page. */
export const pageQuery = {
  limit: codedAs(
    z.preprocess(digits, z.int().min(1).max(100)).meta({ description: "Page size" }),
    "invalid_field",
    "limit must be an integer from 1 to 100",
  ).default(10),
  starting_after: codedAs(
    z.string().min(1).max(100).meta({ description: "The id of the last object of the previous page" }),
    "invalid_cursor",
    "starting_after must be an id from a previous page",
  ).optional(),
};

export interface Page {
  limit: number;
  startingAfter?: string;
}

export const toPage = (q: { limit: number; starting_after?: string | undefined }): Page =>
  q.starting_after === undefined ? { limit: q.limit } : { limit: q.limit, startingAfter: q.starting_after };
