import { CURRENCIES, isKnownCurrency, type Currency } from "../money/currencies.js";

/**
 * Turns one legacy float balance into exact minor units (SPEC → Legacy migration).
 *
 * The legacy system stored money as a double. The value a person saw was the
 * double's shortest decimal string (`String(x)`: `0.30000000000000004`, `10.005`),
 * so that string is what we round, digit by digit, in BigInt. Multiplying the float
 * (`x * 100`) would round twice and silently turn `10.005` into `1000.4999…`.
 */

export type SkipReason = "nan" | "infinite" | "unknown_currency" | "too_large";

export type Rounded =
  | {
      ok: true;
      currency: Currency;
      /** Signed minor units, a safe integer; 0 means there is nothing to import. */
      minor: number;
      /** False when digits were dropped: the value is reported, never silently changed. */
      exact: boolean;
      /** The shortest decimal string the rounding was done on. */
      decimal: string;
    }
  | { ok: false; reason: SkipReason; decimal: string };

/** Legacy rows with no currency were dollars; codes are compared lower-cased, as Stripe writes them. */
export function legacyCurrency(raw: string | null): string {
  return (raw ?? "usd").toLowerCase();
}

/** `-12.345e-7` → sign, all significant digits, and the power of ten they are scaled by. */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;

export function roundLegacy(value: number, rawCurrency: string | null): Rounded {
  const decimal = String(value);
  if (Number.isNaN(value)) return { ok: false, reason: "nan", decimal };
  if (!Number.isFinite(value)) return { ok: false, reason: "infinite", decimal };
  const code = legacyCurrency(rawCurrency);
  if (!isKnownCurrency(code)) return { ok: false, reason: "unknown_currency", decimal };

  const m = DECIMAL.exec(decimal);
  // String() of a finite double always matches; failing loudly beats guessing a value.
  if (!m) throw new Error(`unexpected number format ${decimal}`);
  const [, sign = "", whole = "", frac = "", exp = "0"] = m;
  const digits = BigInt(whole + frac);
  // value = digits × 10^(exp − frac.length); minor = value × 10^exponent.
  const shift = Number(exp) - frac.length + CURRENCIES[code]!.exponent;

  let magnitude: bigint;
  let exact = true;
  if (shift >= 0) {
    magnitude = digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    const rest = digits % divisor;
    magnitude = digits / divisor;
    exact = rest === 0n;
    // Half away from zero: the magnitude rounds up on a remainder of half or more, whatever the sign.
    if (2n * rest >= divisor) magnitude += 1n;
  }

  if (magnitude > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "too_large", decimal };
  // `magnitude === 0n` must give 0, not -0: `-1e-9` imports nothing, like `1e-9`.
  const minor = magnitude === 0n ? 0 : Number(sign === "-" ? -magnitude : magnitude);
  return { ok: true, currency: code, minor, exact, decimal };
}
