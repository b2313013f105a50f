import type Stripe from "stripe";
import { z } from "zod";
import { createContext } from "../context.js";
import type { ControlReply } from "../control.js";
import { parseCurrency } from "../currencies.js";
import { dropRuleSchema } from "../drops.js";
import { StripeApiError, errorPayload, paramError } from "../errors.js";
import { parseSettlementCurrencies } from "../fx.js";
import { RATE_LIMIT_MODES } from "../rate-limits.js";
import type { Runtime } from "../runtime.js";
import { PLATFORM } from "../state.js";
import { bookTransaction } from "./balance-transactions.js";
import type { BodyParser } from "./lifecycle-controls.js";

/**
 * What reconciliation is tested against and no API call can cause: the account's settlement
 * currencies, webhooks Stripe never delivered, and money Stripe moved on its own.
 */

/** Each field is optional: a config call changes what it names and answers with all of it. */
const configSchema = z.strictObject({
  settlement_currencies: z.array(z.string()).nullable().optional(),
  rate_limits: z.enum(RATE_LIMIT_MODES).optional(),
});

export const stripeTransactionSchema = z.strictObject({
  amount: z.int().refine((n) => n !== 0, "amount must not be 0"),
  currency: z.string().min(1),
  type: z.enum(["adjustment", "stripe_fee"]).optional(),
  reporting_category: z.string().min(1).optional(),
  description: z.string().min(1).nullable().optional(),
  /** A connected account's books instead of the platform's. */
  account: z.string().min(1).optional(),
});
export type StripeTransactionInput = z.infer<typeof stripeTransactionSchema>;

/** Undefined: every currency settles as itself again. Returns what is in force. */
export function setSettlementCurrencies(
  rt: Runtime,
  list: readonly string[] | undefined,
): string[] | undefined {
  rt.config.settlementCurrencies = list === undefined ? undefined : parseSettlementCurrencies(list);
  return rt.config.settlementCurrencies;
}

/**
 * A balance transaction Stripe made on its own, such as a monthly fee (`stripe_fee`, category
 * `fee`) or a correction (`adjustment`, category `other_adjustment`). Neither has a source an
 * API client could look up, so `source` is null; both are available at once.
 */
export function addStripeTransaction(rt: Runtime, input: StripeTransactionInput): Stripe.BalanceTransaction {
  if (input.account !== undefined) rt.store.require(PLATFORM, "account", input.account, "account");
  const currency = parseCurrency(input.currency).code;
  const settles = rt.config.settlementCurrencies;
  if (settles && !settles.includes(currency)) {
    throw paramError(
      `The account holds no ${currency} balance; it settles in ${settles.join(", ")}.`,
      "currency",
    );
  }
  const type = input.type ?? "adjustment";
  const ctx = createContext(rt, {
    pathParams: {},
    params: {},
    account: input.account,
    requestId: null,
    idempotencyKey: undefined,
  });
  return bookTransaction(ctx, input.account ?? PLATFORM, {
    amount: input.amount,
    currency,
    exchange_rate: null,
    type,
    reporting_category: input.reporting_category ?? (type === "stripe_fee" ? "fee" : "other_adjustment"),
    source: null,
    description: input.description ?? null,
    available: true,
  });
}

export const availableOnSchema = z.strictObject({ available_on: z.int().positive() });

/**
 * Stripe moves a pending balance transaction's `available_on` on its own: a reserve on the account,
 * a slower payout schedule. As strict as Stripe: only pending funds move (available money is held
 * back by a separate reserve transaction instead), never to before the transaction was created.
 * A date already passed makes the funds available at the next request, as time would.
 */
export function rescheduleTransaction(
  rt: Runtime,
  id: string,
  availableOn: number,
): Stripe.BalanceTransaction {
  const txn = rt.store.require(rt.store.scopeOf(id) ?? PLATFORM, "balance_transaction", id);
  if (availableOn < txn.created) {
    throw paramError("available_on must not be before the transaction was created.", "available_on");
  }
  if (!rt.funds.reschedule(id, availableOn)) {
    throw paramError(`Balance transaction ${id} is already available; only pending funds move.`, "id");
  }
  return txn;
}

/** Delivers an event again, wherever it lives; false when no endpoint is configured. */
export function redeliverEvent(rt: Runtime, id: string): boolean {
  return rt.redeliver(rt.store.require(rt.store.scopeOf(id) ?? PLATFORM, "event", id));
}

function run(act: () => object): ControlReply {
  try {
    return { status: 200, body: act() };
  } catch (err) {
    if (err instanceof StripeApiError) return { status: err.status, body: errorPayload(err) };
    throw err;
  }
}

/** The controls above over HTTP; undefined when none matches the route. */
export function handleReconciliationControl(
  rt: Runtime,
  route: string,
  rawBody: string,
  parse: BodyParser,
): ControlReply | undefined {
  const redeliver = /^POST \/_standin\/events\/([^/]+)\/redeliver$/.exec(route)?.[1];
  if (redeliver !== undefined) {
    return run(() => ({ redelivered: redeliverEvent(rt, decodeURIComponent(redeliver)) }));
  }
  const reschedule = /^POST \/_standin\/balance_transactions\/([^/]+)\/available_on$/.exec(route)?.[1];
  if (reschedule !== undefined) {
    const body = parse(availableOnSchema, rawBody);
    if (!body.ok) return body.reply;
    const id = decodeURIComponent(reschedule);
    return run(() => structuredClone(rescheduleTransaction(rt, id, body.data.available_on)));
  }
  switch (route) {
    case "POST /_standin/config": {
      const body = parse(configSchema, rawBody);
      if (!body.ok) return body.reply;
      const { settlement_currencies: currencies, rate_limits: rateLimits } = body.data;
      return run(() => {
        if (currencies !== undefined) setSettlementCurrencies(rt, currencies ?? undefined);
        if (rateLimits !== undefined) rt.rateLimits.mode = rateLimits;
        return {
          settlement_currencies: rt.config.settlementCurrencies ?? null,
          rate_limits: rt.rateLimits.mode,
        };
      });
    }
    case "POST /_standin/webhooks/drop": {
      const body = parse(dropRuleSchema, rawBody);
      if (!body.ok) return body.reply;
      rt.drops.set(body.data);
      return { status: 200, body: { ok: true } };
    }
    case "DELETE /_standin/webhooks/drop":
      rt.drops.set(undefined);
      return { status: 200, body: { dropped: rt.drops.dropped() } };
    case "GET /_standin/webhooks/dropped":
      return { status: 200, body: { dropped: rt.drops.dropped() } };
    case "POST /_standin/balance_transactions": {
      const body = parse(stripeTransactionSchema, rawBody);
      if (!body.ok) return body.reply;
      return run(() => addStripeTransaction(rt, body.data));
    }
    default:
      return undefined;
  }
}
