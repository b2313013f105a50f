import { stream, type Random } from "./random.js";

/**
 * The workload, planned up front from the seed: a list of scenarios, each a small story about
 * one payment or one withdrawal, with its user, currency, amounts and start time. The plan is a
 * pure function of (seed, events, minutes), so a replay runs the same stories in the same
 * order; `estimateEvents` is how many Stripe events a story makes, measured at the stand-in, so
 * `--events N` plans stories until about N events.
 */
export const KINDS = {
  // payments
  top_up: { weight: 10, events: 3 },
  declined: { weight: 3, events: 3 },
  partial_capture: { weight: 5, events: 7 },
  authorization_canceled: { weight: 3, events: 4 },
  refund_full: { weight: 6, events: 5 },
  refunds_partial: { weight: 6, events: 7 },
  refund_failed: { weight: 6, events: 8 },
  bank_debit_refunded: { weight: 4, events: 11 },
  dispute_won: { weight: 4, events: 7 },
  dispute_lost: { weight: 4, events: 6 },
  dispute_prevented: { weight: 3, events: 5 },
  inquiry: { weight: 3, events: 6 },
  dispute_reinstated: { weight: 3, events: 8 },
  appeal_won: { weight: 3, events: 10 },
  appeal_lost: { weight: 3, events: 8 },
  // withdrawals (each with its own top-up; onboarding adds a few events once per user)
  withdrawal_paid: { weight: 8, events: 7 },
  withdrawal_payout_failed: { weight: 4, events: 9 },
  withdrawal_reversed: { weight: 4, events: 8 },
  withdrawal_rejected: { weight: 4, events: 3 },
  withdrawal_canceled: { weight: 2, events: 3 },
  // subscriptions (Stripe Billing; no wallet moves)
  subscription_renewed: { weight: 3, events: 10 },
  subscription_canceled: { weight: 2, events: 12 },
  subscription_declined: { weight: 2, events: 12 },
  subscription_setup_failed: { weight: 1, events: 3 },
} as const satisfies Record<string, { weight: number; events: number }>;
export type Kind = keyof typeof KINDS;

export const isWithdrawal = (k: Kind) => k.startsWith("withdrawal_");
export const isSubscription = (k: Kind) => k.startsWith("subscription_");

/** Per currency: smallest and largest top-up the soak makes, in minor units. */
const AMOUNTS: Record<string, [number, number]> = {
  usd: [500, 40_000],
  eur: [500, 30_000],
  gbp: [300, 30_000],
  jpy: [100, 50_000],
};
const CURRENCY_WEIGHTS = { usd: 5, eur: 2, gbp: 1.5, jpy: 1.5 } as const;

export interface Scenario {
  index: number;
  kind: Kind;
  user: string;
  currency: string;
  /** The top-up's amount. */
  amountMinor: number;
  /** Partial capture: what is captured. Refunds: the refunds' amounts. Withdrawals: the amount. */
  partsMinor: number[];
  /** When the story starts, in ms after the workload began. */
  startAtMs: number;
  /** Pauses between the story's steps, so its events interleave with others' and with faults. */
  pausesMs: number[];
}

export interface Plan {
  seed: number;
  scenarios: Scenario[];
  estimatedEvents: number;
  users: number;
}

const ONBOARDING_EVENTS = 4;

export function planWorkload(seed: number, events: number, windowMs: number): Plan {
  const r = stream(seed, "workload");
  const weights = Object.fromEntries(Object.entries(KINDS).map(([k, v]) => [k, v.weight])) as Record<
    Kind,
    number
  >;
  const kinds: Kind[] = [];
  let estimated = 0;
  let withdrawals = 0;
  while (estimated < events) {
    const kind = r.weighted(weights);
    kinds.push(kind);
    estimated += KINDS[kind].events;
    if (isWithdrawal(kind)) withdrawals += 1;
  }
  // Payers share wallets (several stories on one wallet at once); withdrawers are apart, so no
  // dispute of theirs blocks an approval, and each is onboarded once.
  const payers = Math.max(4, Math.ceil((kinds.length - withdrawals) / 6));
  const withdrawers = Math.max(2, Math.ceil(withdrawals / 2));
  estimated += withdrawers * ONBOARDING_EVENTS;
  // Stories start over the first 85 % of the window, so the last ones still meet faults.
  const spanMs = windowMs * 0.85;
  const scenarios = kinds.map((kind, index): Scenario => {
    const w = isWithdrawal(kind);
    const currency = w || kind === "bank_debit_refunded" ? "usd" : r.weighted(CURRENCY_WEIGHTS);
    const [lo, hi] = AMOUNTS[currency]!;
    const amountMinor = w ? r.int(3_000, 40_000) : r.int(lo, hi);
    const user = isSubscription(kind)
      ? `s${seed}-b${index}` // its own customer, whose billing clock no other story moves
      : w
        ? withdrawer(seed, kind, index, r.int(1, withdrawers))
        : `s${seed}-p${r.int(1, payers)}`;
    return {
      index,
      kind,
      user,
      currency,
      amountMinor,
      partsMinor: parts(kind, amountMinor, r),
      startAtMs: Math.round((index / kinds.length) * spanMs + r.int(0, 500)),
      pausesMs: Array.from({ length: 6 }, () => r.int(0, 1_500)),
    };
  });
  return { seed, scenarios, estimatedEvents: estimated, users: new Set(scenarios.map((s) => s.user)).size };
}

/**
 * A reversal after the payout leaves the connected account negative at Stripe (it was allowed
 * to go so), and every later payout there waits for funds that never come: Coffer is right to
 * wait, so a reversed withdrawal gets a user of its own whose account nothing else uses.
 */
function withdrawer(seed: number, kind: Kind, index: number, shared: number): string {
  return kind === "withdrawal_reversed" ? `s${seed}-r${index}` : `s${seed}-w${shared}`;
}

function parts(kind: Kind, amountMinor: number, r: Random): number[] {
  switch (kind) {
    case "partial_capture":
      return [r.int(Math.ceil(amountMinor * 0.2), amountMinor - 1)];
    case "refunds_partial":
    case "bank_debit_refunded": {
      const first = r.int(1, Math.floor(amountMinor / 2));
      return [first, r.int(1, amountMinor - first)];
    }
    case "withdrawal_paid":
    case "withdrawal_payout_failed":
    case "withdrawal_reversed":
    case "withdrawal_rejected":
    case "withdrawal_canceled":
      // At least the fee's minimum, at most what the story's own top-up brought in.
      return [r.int(600, amountMinor)];
    default:
      return [];
  }
}
