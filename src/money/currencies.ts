/**
 * ISO 4217 currencies Coffer knows, with their minor-unit exponent and Stripe's
 * per-charge limits in minor units. Stripe writes codes in lowercase; so do we.
 *
 * `minChargeMinor` is Stripe's documented minimum charge amount (converted to the
 * currency's minor units); `maxChargeMinor` is the 8-digit cap Stripe applies to
 * a single charge (99,999,999 minor units).
 */
export interface CurrencyInfo {
  readonly exponent: 0 | 2 | 3;
  readonly minChargeMinor: number;
  readonly maxChargeMinor: number;
}

const MAX = 99_999_999;
const c = (exponent: 0 | 2 | 3, minChargeMinor: number): CurrencyInfo => ({
  exponent,
  minChargeMinor,
  maxChargeMinor: MAX,
});

export const CURRENCIES: Readonly<Record<string, CurrencyInfo>> = {
  usd: c(2, 50),
  eur: c(2, 50),
  gbp: c(2, 30),
  cad: c(2, 50),
  aud: c(2, 50),
  chf: c(2, 50),
  nzd: c(2, 50),
  sgd: c(2, 50),
  hkd: c(2, 400),
  dkk: c(2, 250),
  nok: c(2, 300),
  sek: c(2, 300),
  pln: c(2, 200),
  czk: c(2, 1500),
  mxn: c(2, 1000),
  brl: c(2, 50),
  inr: c(2, 50),
  aed: c(2, 200),
  // Zero-decimal currencies: the amount is already in whole units.
  jpy: c(0, 50),
  krw: c(0, 500),
  vnd: c(0, 10_000),
  clp: c(0, 500),
  // Three-decimal currencies; Stripe requires the last digit to be 0 for these. 500 is the
  // conservative minimum we charge (Stripe's is no higher).
  bhd: c(3, 500),
  jod: c(3, 500),
  kwd: c(3, 500),
  omr: c(3, 500),
  tnd: c(3, 500),
};

export type Currency = string & { readonly __brand: "Currency" };

export function isKnownCurrency(code: unknown): code is Currency {
  return typeof code === "string" && Object.hasOwn(CURRENCIES, code);
}

export function currencyInfo(code: Currency): CurrencyInfo {
  const info = CURRENCIES[code];
  if (!info) throw new Error(`unknown currency ${code}`);
  return info;
}

/**
 * Renders minor units as a decimal string for deprecated `amount` fields: `1234` usd → `"12.34"`,
 * `-5` kwd → `"-0.005"`, `500` jpy → `"500"`. BigInt division by 10^exponent, so no float is
 * ever involved and any integer (a number, or pg's int8 string) renders exactly.
 */
export function formatMinor(amountMinor: number | bigint | string, currency: Currency): string {
  const { exponent } = currencyInfo(currency);
  const value = BigInt(amountMinor);
  const magnitude = value < 0n ? -value : value;
  const scale = 10n ** BigInt(exponent);
  const whole = (magnitude / scale).toString();
  const frac = exponent === 0 ? "" : `.${(magnitude % scale).toString().padStart(exponent, "0")}`;
  return `${value < 0n ? "-" : ""}${whole}${frac}`;
}
