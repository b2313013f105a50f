/**
 * The ordering rules of Billing's mirrors (plans, setups, subscriptions), pure so a property test
 * can reach them.
 *
 * Terminology
 * - as-of: the time, in Stripe's seconds, of the state a row holds: the `created` of the event
 *   that carried it (never ahead of when Coffer received it), or the second in which Coffer
 *   asked Stripe for the object.
 * - same: the incoming state equals the stored one in every mirrored field.
 * - final: a status nothing moves on from (a canceled subscription, a succeeded SetupIntent).
 *
 * Stripe objects carry no version, and events have one-second resolution: two events of one
 * second may come in either order and say different things, and a fetch made in that second may
 * have seen either. So a tie that disagrees is never decided: Coffer waits for the second to pass
 * and fetches the object, whose as-of is then strictly newer than the tie, and stores that. A
 * strictly older state never overwrites a newer one, and a newer one always wins (even when it
 * says the same, so the as-of moves on). Every order of arrival ends in Stripe's current state.
 */
export type MirrorDecision = "apply" | "skip" | "refetch";

export interface MirrorState {
  asOf: number;
  final: boolean;
}

export function mirrorDecision(
  stored: MirrorState | null,
  incoming: MirrorState,
  same: boolean,
): MirrorDecision {
  if (stored === null) return "apply";
  // A final state is only replaced by a newer final one (a canceled subscription's later edits).
  if (stored.final && !incoming.final) return "skip";
  // Newer wins even when it says the same: the row's as-of moves on, so an older snapshot that
  // arrives later cannot slip in between.
  if (incoming.asOf > stored.asOf) return "apply";
  if (incoming.asOf < stored.asOf || same) return "skip";
  return "refetch";
}

/** The invoice a subscription row names as its latest, and the as-of of that invoice's status. */
export interface LatestInvoiceState {
  id: string;
  /** The invoice's own `created`, in seconds; null on rows mirrored before it was kept. */
  createdS: number | null;
  status: string | null;
  asOf: number;
}

/**
 * Whether an invoice's state (from an invoice event, or a fetched subscription's expanded
 * `latest_invoice`) goes into the row's latest-invoice fields. Stripe's `latest_invoice` is the
 * newest invoice the subscription generated, so which invoice is decided by the invoices' own
 * `created` (ties by id), never by when an event about one came: an old invoice paid after a
 * renewal's invoice exists sends the newest event, yet is not the latest invoice. Only the status
 * of the one invoice follows the as-of rule (mirrorDecision). Every order of arrival ends on the
 * newest invoice and its newest status. Two invoices of one subscription in one second are told
 * apart by id, which Stripe does not order by time: such a tie may name the other of the two.
 * A row from before `created` was kept falls back to the as-of rule until it learns one.
 */
export function latestInvoiceDecision(
  stored: LatestInvoiceState | null,
  incoming: LatestInvoiceState,
): MirrorDecision {
  if (stored === null) return "apply";
  const byAsOf = (same: boolean) =>
    mirrorDecision({ asOf: stored.asOf, final: false }, { asOf: incoming.asOf, final: false }, same);
  if (stored.id === incoming.id) return byAsOf(stored.status === incoming.status);
  if (stored.createdS === null || incoming.createdS === null) return byAsOf(false);
  if (incoming.createdS !== stored.createdS) return incoming.createdS > stored.createdS ? "apply" : "skip";
  return incoming.id > stored.id ? "apply" : "skip";
}

/**
 * Subscription statuses that hold a price for the user: a second subscription to it is refused
 * (409 `already_subscribed`). `incomplete` counts: its first invoice may still be paid.
 */
export const LIVE_SUBSCRIPTION_STATUSES: readonly string[] = [
  "trialing",
  "active",
  "past_due",
  "unpaid",
  "paused",
  "incomplete",
];

/** A subscription in these has ended for good: Stripe never reopens it. */
export const ENDED_SUBSCRIPTION_STATUSES: readonly string[] = ["canceled", "incomplete_expired"];

/**
 * A Coffer setup's status: `creating` (ours, before Stripe answered), the SetupIntent's own
 * statuses, and `failed`, which is how Coffer names a SetupIntent back at
 * `requires_payment_method` with a `last_setup_error` (setup_intent.setup_failed). A failed setup
 * may still succeed with another card; `succeeded` and `canceled` are final.
 */
export const FINAL_SETUP_STATUSES: readonly string[] = ["succeeded", "canceled"];

export function setupStatusOf(intent: { status: string; hasError: boolean }): string {
  return intent.status === "requires_payment_method" && intent.hasError ? "failed" : intent.status;
}

/** One notification per fact, whichever of its events' copies arrives first (SPEC → Notifications). */
export const notificationKey = {
  trialWillEnd: (subscriptionId: string, trialEndS: number) =>
    `trial_will_end:${subscriptionId}:${trialEndS}`,
  paymentFailed: (invoiceId: string) => `invoice.payment_failed:${invoiceId}`,
};
