import type Stripe from "stripe";
import { DomainError } from "../ledger/errors.js";
import { FX, STRIPE } from "../ledger/accounts.js";
import type { Via } from "../ledger/movements.js";
import { isKnownCurrency } from "../money/currencies.js";
import type { FlowDeps } from "./deps.js";

/**
 * Whether Stripe converts a charge's currency is a property of the account's
 * settlement currencies, not of the charge: every charge in eur settles the same
 * way. So one balance transaction per currency is read, and the answer is kept
 * for a while instead of fetched for every credit. The fee and the converted
 * amount themselves come from the balance-transaction stream.
 *
 * If the account's settlement currencies change inside the window, the first
 * credits after the change go through the old path; the stream's line check then
 * reports them as unmatched, naming the charge. That trade is what keeps crediting
 * under Stripe's rate limit.
 */
const KEEP_MS = 10 * 60_000;

interface Learned {
  /** A promise, so that concurrent jobs in one process wait for one read instead of each making it. */
  settlesIn: Promise<string>;
  at: number;
}

/** Keyed by client, so two stand-ins (or accounts) in one process never share an answer. */
const learned = new WeakMap<Stripe, Map<string, Learned>>();

export interface SettlementPath {
  via: Via;
  /** Set when Stripe converts this currency: what it settles in. */
  settlementCurrency: string | null;
}

export async function settlementPath(
  deps: FlowDeps,
  currency: string,
  piId: string,
  chargeId: string | null,
): Promise<SettlementPath> {
  let perClient = learned.get(deps.stripe);
  if (!perClient) learned.set(deps.stripe, (perClient = new Map()));
  let hit = perClient.get(currency);
  if (!hit || Date.now() - hit.at >= KEEP_MS) {
    const read = readSettlement(deps, currency, piId, chargeId);
    hit = { settlesIn: read, at: Date.now() };
    perClient.set(currency, hit);
    // A failed read is not an answer: the next job reads again.
    read.catch(() => perClient.get(currency) === hit && perClient.delete(currency));
  }
  const settlesIn = await hit.settlesIn;
  const converted = settlesIn !== currency;
  return { via: converted ? FX : STRIPE, settlementCurrency: converted ? settlesIn : null };
}

async function readSettlement(
  deps: FlowDeps,
  currency: string,
  piId: string,
  chargeId: string | null,
): Promise<string> {
  // An endpoint on an API version before `latest_charge` sends snapshots without it: ask for the charge.
  const id = chargeId ?? (await latestChargeOf(deps, piId));
  if (!id) {
    throw new DomainError("stripe_charge_not_ready", `PaymentIntent ${piId} has no charge yet`, {}, false);
  }
  const charge = await deps.stripe.charges.retrieve(id, { expand: ["balance_transaction"] });
  const txn = charge.balance_transaction;
  if (!txn || typeof txn === "string") {
    // Stripe attaches the balance transaction shortly after capture; retry with backoff.
    throw new DomainError(
      "stripe_balance_transaction_not_ready",
      `charge ${charge.id} has no balance transaction yet`,
      {},
      false,
    );
  }
  if (!isKnownCurrency(txn.currency)) {
    throw new DomainError("currency_unknown", `charge ${charge.id} settled in unknown ${txn.currency}`);
  }
  return txn.currency;
}

async function latestChargeOf(deps: FlowDeps, piId: string): Promise<string | null> {
  const pi = await deps.stripe.paymentIntents.retrieve(piId);
  return typeof pi.latest_charge === "string" ? pi.latest_charge : (pi.latest_charge?.id ?? null);
}
