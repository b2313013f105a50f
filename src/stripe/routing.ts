import type { QueueName } from "../queue/names.js";

/**
 * Which queue works each Stripe event type. A type not listed here is stored as
 * `ignored` and answered 200: throwing would make Stripe retry it for 3 days.
 * Sibling events (e.g. `charge.succeeded` beside `payment_intent.succeeded`) go
 * to the same queue and converge on the same posting keys.
 */
const ROUTES: Readonly<Record<string, QueueName>> = {
  "payment_intent.succeeded": "payments",
  "payment_intent.payment_failed": "payments",
  "payment_intent.canceled": "payments",
  "payment_intent.amount_capturable_updated": "payments",
  "charge.succeeded": "payments",
  "charge.captured": "payments",
  "charge.refunded": "refunds",
  "charge.refund.updated": "refunds",
  "refund.created": "refunds",
  "refund.updated": "refunds",
  "refund.failed": "refunds",
  "charge.dispute.created": "disputes",
  "charge.dispute.updated": "disputes",
  "charge.dispute.funds_withdrawn": "disputes",
  "charge.dispute.funds_reinstated": "disputes",
  "charge.dispute.closed": "disputes",
  "account.updated": "withdrawals",
  "payout.paid": "withdrawals",
  "payout.failed": "withdrawals",
  "payout.canceled": "withdrawals",
  "transfer.reversed": "withdrawals",
  "financial_connections.account.created": "withdrawals",
};

export function queueForEvent(type: string): QueueName | null {
  return Object.hasOwn(ROUTES, type) ? ROUTES[type]! : null;
}

export const ROUTED_EVENT_TYPES = Object.keys(ROUTES);
