import type Stripe from "stripe";
import { z } from "zod";
import type { DisputeStatus } from "../ledger/disputes.js";
import { DomainError } from "../ledger/errors.js";

/**
 * The few fields of Stripe's objects that Coffer's money movements read, checked
 * once at the boundary. The same reader takes an event's `data.object` and an
 * object fetched from the API, so a handler has one input shape whichever it got.
 * Ids are opaque: a charge may be `ch_…` or `py_…`, a refund `re_…` or `pyr_…`;
 * what an object is comes from its `object` field, never from an id prefix.
 */

/** The SDK's dispute statuses without its open-ended `string` member. */
type SdkDisputeStatus<T = Stripe.Dispute.Status> = T extends string ? (string extends T ? never : T) : never;
/** The ledger's status rules cover exactly the SDK's statuses: an SDK upgrade that adds one fails here. */
const disputeStatusesAgree: [
  Exclude<SdkDisputeStatus, DisputeStatus>,
  Exclude<DisputeStatus, SdkDisputeStatus>,
] extends [never, never]
  ? true
  : never = true;
void disputeStatusesAgree;

const id = z.string().min(1).max(255);
const minor = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const currency = z.string().regex(/^[a-z]{3}$/);
const ref = z.union([id, z.object({ id }).transform((o) => o.id)]);
const metadata = z
  .record(z.string(), z.string())
  .nullish()
  .transform((m) => m ?? {});

const paymentIntentSchema = z.object({
  object: z.literal("payment_intent"),
  id,
  status: z.string(),
  amount: minor,
  amount_received: minor,
  amount_capturable: minor,
  currency,
  metadata,
  latest_charge: ref.nullish(),
  livemode: z.boolean(),
});

const chargeSchema = z.object({
  object: z.literal("charge"),
  id,
  status: z.string(),
  captured: z.boolean(),
  amount: minor,
  amount_captured: minor,
  amount_refunded: minor,
  currency,
  metadata,
  payment_intent: ref.nullish(),
  livemode: z.boolean(),
});

const refundSchema = z.object({
  object: z.literal("refund"),
  id,
  status: z.string().nullish(),
  amount: minor,
  currency,
  payment_intent: ref.nullish(),
  charge: ref.nullish(),
  balance_transaction: ref.nullish(),
});

const disputeSchema = z.object({
  object: z.literal("dispute"),
  id,
  status: z.string(),
  amount: minor,
  currency,
  payment_intent: ref.nullish(),
  charge: ref,
  balance_transactions: z
    .array(z.object({ amount: z.number().int(), fee: z.number().int(), currency }))
    .default([]),
});

export interface PaymentIntentView {
  id: string;
  status: string;
  amount: number;
  amountReceived: number;
  amountCapturable: number;
  currency: string;
  metadata: Record<string, string>;
  latestChargeId: string | null;
  livemode: boolean;
}

export interface ChargeView {
  id: string;
  status: string;
  captured: boolean;
  amount: number;
  amountCaptured: number;
  amountRefunded: number;
  currency: string;
  metadata: Record<string, string>;
  paymentIntentId: string | null;
  livemode: boolean;
}

export interface RefundView {
  id: string;
  /** Stripe may omit it on old objects; a refund without one is treated as pending. */
  status: string;
  amount: number;
  currency: string;
  paymentIntentId: string | null;
  chargeId: string | null;
  /** Null only for a refund that moved no money (the uncaptured rest of a partial capture). */
  balanceTransactionId: string | null;
}

export interface DisputeView {
  id: string;
  status: Stripe.Dispute.Status;
  amount: number;
  currency: string;
  paymentIntentId: string | null;
  chargeId: string;
  /** Stripe's balance transactions on the dispute: funds withdrawn (negative) and reinstated (positive). */
  balanceTransactions: Array<{ amount: number; fee: number; currency: string }>;
}

/** Parses a Stripe object with `schema`; a mismatch is `event_malformed` (terminal), naming the field. */
export function read<S extends z.ZodType>(schema: S, obj: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(obj);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const o = (obj ?? {}) as { id?: unknown };
  throw new DomainError(
    "event_malformed",
    `${what} ${typeof o.id === "string" ? o.id : "without an id"} is malformed: ${issue.path.join(".") || "object"} ${issue.message}`,
  );
}

export function paymentIntent(obj: unknown): PaymentIntentView {
  const p = read(paymentIntentSchema, obj, "PaymentIntent");
  return {
    id: p.id,
    status: p.status,
    amount: p.amount,
    amountReceived: p.amount_received,
    amountCapturable: p.amount_capturable,
    currency: p.currency,
    metadata: p.metadata,
    latestChargeId: p.latest_charge ?? null,
    livemode: p.livemode,
  };
}

export function charge(obj: unknown): ChargeView {
  const c = read(chargeSchema, obj, "charge");
  return {
    id: c.id,
    status: c.status,
    captured: c.captured,
    amount: c.amount,
    amountCaptured: c.amount_captured,
    amountRefunded: c.amount_refunded,
    currency: c.currency,
    metadata: c.metadata,
    paymentIntentId: c.payment_intent ?? null,
    livemode: c.livemode,
  };
}

export function refund(obj: unknown): RefundView {
  const r = read(refundSchema, obj, "refund");
  return {
    id: r.id,
    status: r.status ?? "pending",
    amount: r.amount,
    currency: r.currency,
    paymentIntentId: r.payment_intent ?? null,
    chargeId: r.charge ?? null,
    balanceTransactionId: r.balance_transaction ?? null,
  };
}

export function dispute(obj: unknown): DisputeView {
  const d = read(disputeSchema, obj, "dispute");
  return {
    id: d.id,
    status: d.status as Stripe.Dispute.Status,
    amount: d.amount,
    currency: d.currency,
    paymentIntentId: d.payment_intent ?? null,
    chargeId: d.charge,
    balanceTransactions: d.balance_transactions,
  };
}

/** An external account (bank account or card) on a connected account, passed on as Stripe sent it. */
export function externalAccount(obj: Stripe.BankAccount | Stripe.Card): Stripe.BankAccount | Stripe.Card {
  const o = (obj ?? {}) as { object?: unknown; id?: unknown };
  if ((o.object !== "bank_account" && o.object !== "card") || typeof o.id !== "string" || o.id === "") {
    throw new DomainError("event_malformed", `event object ${String(o.id)} is not an external account`);
  }
  return obj;
}

/** The connected account a Connect event is about: the event's `account`, or the object's own. */
export function accountOf(e: { account?: string; data: { object: { account?: unknown } | null } }): string {
  const a = e.account ?? e.data.object?.account;
  const accountId = typeof a === "string" ? a : (a as { id?: unknown } | null)?.id;
  if (typeof accountId !== "string" || accountId === "") {
    throw new DomainError("event_malformed", "Connect event names no connected account");
  }
  return accountId;
}

/** The id of an object Coffer re-fetches anyway, checked to be what the event says it is. */
export function objectId(obj: { id?: unknown; object?: unknown } | null, objectType: string): string {
  if (typeof obj !== "object" || obj === null) {
    throw new DomainError("event_malformed", `event object is not a ${objectType}`);
  }
  if (obj.object !== objectType || typeof obj.id !== "string" || obj.id === "") {
    throw new DomainError(
      "event_malformed",
      `event object ${String(obj.id)} is not a ${objectType} with an id (it is a ${String(obj.object)})`,
    );
  }
  return obj.id;
}
