import { paramError } from "./errors.js";

/**
 * Currencies the stand-in accepts, with their exponent and minimum charge in minor units.
 * Simplified from Stripe's table: 50 minor units for zero- and two-decimal currencies and 500
 * for three-decimal ones, except where Stripe documents its own minimum (gbp 30, hkd 400, …):
 * a minimum lower than Stripe's would let a charge through here that Stripe refuses.
 */
interface CurrencyInfo {
  exponent: 0 | 2 | 3;
  minChargeMinor: number;
}

// Space-separated so the lists stay compact.
const TWO_DECIMAL =
  "usd eur gbp cad aud nzd chf sek nok dkk pln czk huf ron bgn hkd sgd mxn brl inr aed ils thb myr php zar";
const ZERO_DECIMAL = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf";
const THREE_DECIMAL = "bhd jod kwd omr tnd";

const TABLE = new Map<string, CurrencyInfo>([
  ...TWO_DECIMAL.split(" ").map((c) => [c, { exponent: 2, minChargeMinor: 50 }] as const),
  ...ZERO_DECIMAL.split(" ").map((c) => [c, { exponent: 0, minChargeMinor: 50 }] as const),
  ...THREE_DECIMAL.split(" ").map((c) => [c, { exponent: 3, minChargeMinor: 500 }] as const),
]);

/** Stripe's documented minimums that differ from the defaults above. */
const DOCUMENTED_MINIMUMS: Record<string, number> = {
  gbp: 30,
  hkd: 400,
  dkk: 250,
  nok: 300,
  sek: 300,
  pln: 200,
  czk: 1500,
  mxn: 1000,
  aed: 200,
};
for (const [code, min] of Object.entries(DOCUMENTED_MINIMUMS))
  TABLE.set(code, { exponent: 2, minChargeMinor: min });

/** Stripe's per-charge maximum, in minor units, for every currency. */
export const MAX_CHARGE_MINOR = 99_999_999;

/** Lowercases like Stripe does and refuses currencies outside the table. */
export function parseCurrency(raw: string, param = "currency"): { code: string } & CurrencyInfo {
  const code = raw.toLowerCase();
  const info = TABLE.get(code);
  if (!info) {
    const supported = [...TABLE.keys()].join(", ");
    const message = `Invalid currency: ${raw}. Stripe currently supports these currencies: ${supported}`;
    throw paramError(message, param, "invalid_currency");
  }
  return { code, ...info };
}

export function formatMinor(amountMinor: number, exponent: number): string {
  return exponent === 0 ? String(amountMinor) : (amountMinor / 10 ** exponent).toFixed(exponent);
}
