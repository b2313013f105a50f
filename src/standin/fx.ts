import { parseCurrency } from "./currencies.js";
import { paramError } from "./errors.js";

/**
 * Currency conversion as Stripe does it when a charge is made in a currency the account does not
 * settle in: the balance transaction is in the account's default settlement currency, with the
 * rate it used. Stripe's `exchange_rate` is per major unit (10.00 EUR × 1.08 = 10.80 USD), so
 * conversions go through major units: 1000 JPY × 0.0067 = 6.70 USD = 670 cents.
 */

// US dollars per major unit of each currency: a fixed table, so tests can work amounts out by hand.
const USD_PER_UNIT = new Map(
  (
    "usd:1 eur:1.08 gbp:1.27 cad:0.73 aud:0.66 nzd:0.61 chf:1.13 sek:0.095 nok:0.093 dkk:0.145 " +
    "pln:0.25 czk:0.043 huf:0.0027 ron:0.217 bgn:0.552 hkd:0.128 sgd:0.74 mxn:0.058 brl:0.2 " +
    "inr:0.012 aed:0.2723 ils:0.27 thb:0.028 myr:0.21 php:0.0178 zar:0.054 " +
    "bif:0.00035 clp:0.00105 djf:0.0056 gnf:0.000116 jpy:0.0067 kmf:0.0022 krw:0.00073 " +
    "mga:0.00022 pyg:0.000135 rwf:0.00077 ugx:0.00026 vnd:0.00004 vuv:0.0084 xaf:0.00165 " +
    "xof:0.00165 xpf:0.00905 bhd:2.65 jod:1.41 kwd:3.25 omr:2.6 tnd:0.32"
  )
    .split(" ")
    .map((pair) => {
      const [code = "", rate = ""] = pair.split(":");
      return [code, Number(rate)] as const;
    }),
);

// Rates carry six significant digits, as Stripe's do; this many decimals hold any of them exactly.
const RATE_DECIMALS = 12;

/** Where money in one currency lands in the account's balance. */
export interface Settlement {
  currency: string;
  /** Null when the money settles as itself. */
  exchangeRate: number | null;
}

/** The fixed rate from one currency to another, per major unit. */
export function exchangeRate(from: string, to: string): number {
  const fromUsd = USD_PER_UNIT.get(from);
  const toUsd = USD_PER_UNIT.get(to);
  if (fromUsd === undefined || toUsd === undefined) throw new Error(`stand-in has no rate ${from}→${to}`);
  return Number((fromUsd / toUsd).toPrecision(6));
}

/**
 * `settlementCurrencies` undefined: every currency settles as itself. Otherwise a currency not
 * in the list is converted into the first one, the account's default currency.
 */
export function settlementOf(
  settlementCurrencies: readonly string[] | undefined,
  currency: string,
): Settlement {
  const fallback = settlementCurrencies?.[0];
  if (fallback === undefined || settlementCurrencies?.includes(currency)) {
    return { currency, exchangeRate: null };
  }
  return { currency: fallback, exchangeRate: exchangeRate(currency, fallback) };
}

/**
 * `amountMinor` of `from` in minor units of `to` at `rate`, exactly (BigInt: no float error) and
 * rounded half away from zero, so a refund converts to minus what the same charge converts to.
 */
export function convertMinor(amountMinor: number, from: string, to: string, rate: number): number {
  const [whole = "0", fraction = ""] = rate.toFixed(RATE_DECIMALS).split(".");
  const scaledRate = BigInt(whole + fraction);
  const numerator = BigInt(Math.abs(amountMinor)) * scaledRate * 10n ** BigInt(parseCurrency(to).exponent);
  const denominator = 10n ** BigInt(RATE_DECIMALS + parseCurrency(from).exponent);
  const rounded = numerator / denominator + (2n * (numerator % denominator) >= denominator ? 1n : 0n);
  return Math.sign(amountMinor) * Number(rounded);
}

/** What an amount in `currency` books in the account's balance under `settlement`. */
export function inSettlement(
  amountMinor: number,
  currency: string,
  settlement: Settlement,
): { amount: number; currency: string; exchange_rate: number | null } {
  const rate = settlement.exchangeRate;
  if (rate === null) return { amount: amountMinor, currency, exchange_rate: null };
  return {
    amount: convertMinor(amountMinor, currency, settlement.currency, rate),
    currency: settlement.currency,
    exchange_rate: rate,
  };
}

/** Lowercased, known to Stripe, each once, at least one: or a 400 naming `param`. */
export function parseSettlementCurrencies(raw: readonly string[], param = "settlement_currencies"): string[] {
  if (raw.length === 0) throw paramError("At least one settlement currency is required.", param);
  return [...new Set(raw.map((c) => parseCurrency(c, param).code))];
}
