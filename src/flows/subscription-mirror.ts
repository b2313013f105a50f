import {
  insertSubscription,
  lockSubscription,
  updateInvoiceFields,
  updateSubscriptionFields,
  type InvoiceFields,
  type SubscriptionFields,
  type SubscriptionRow,
} from "../db/stores/subscriptions.js";
import { withTransaction, type Trx } from "../db/transaction.js";
import {
  ENDED_SUBSCRIPTION_STATUSES,
  latestInvoiceDecision,
  mirrorDecision,
  type MirrorDecision,
} from "../ledger/subscriptions.js";
import {
  subscription as readSubscription,
  type LatestInvoiceView,
  type SubscriptionView,
} from "../stripe/billing-snapshots.js";
import type { FlowDeps } from "./deps.js";
import { fetchAfter } from "./mirror-fetch.js";

/** Whose subscription it is: the customer's user, and the setup it was made from (if Coffer's). */
export interface Owner {
  userId: string;
  customerId: string;
  setupId: string | null;
}

const at = (s: number | null): Date | null => (s === null ? null : new Date(s * 1000));
const ms = (d: Date | null) => d?.getTime() ?? null;

export function subscriptionFields(v: SubscriptionView): SubscriptionFields {
  return {
    price_id: v.priceId,
    status: v.status,
    current_period_start: at(v.currentPeriodStart),
    current_period_end: at(v.currentPeriodEnd),
    cancel_at_period_end: v.cancelAtPeriodEnd,
    canceled_at: at(v.canceledAt),
    ended_at: at(v.endedAt),
    trial_end: at(v.trialEnd),
  };
}

function sameFields(row: SubscriptionRow, f: SubscriptionFields): boolean {
  return (
    row.price_id === f.price_id &&
    row.status === f.status &&
    row.cancel_at_period_end === f.cancel_at_period_end &&
    ms(row.current_period_start) === ms(f.current_period_start) &&
    ms(row.current_period_end) === ms(f.current_period_end) &&
    ms(row.canceled_at) === ms(f.canceled_at) &&
    ms(row.ended_at) === ms(f.ended_at) &&
    ms(row.trial_end) === ms(f.trial_end)
  );
}

const combine = (ds: MirrorDecision[]): MirrorDecision =>
  ds.includes("refetch") ? "refetch" : ds.includes("apply") ? "apply" : "skip";

/**
 * Writes a subscription's state (and its latest invoice, when the snapshot carries it expanded)
 * under the row lock, each part by its own as-of (src/ledger/subscriptions.ts). Returns
 * "refetch" when a part tied and disagreed: the caller fetches and calls again.
 */
export async function mirrorSubscription(
  trx: Trx,
  owner: Owner,
  view: SubscriptionView,
  asOf: number,
): Promise<MirrorDecision> {
  const fields = subscriptionFields(view);
  const invoice = view.latestInvoice && invoiceFields(view.latestInvoice);
  let row = await lockSubscription(trx, view.id);
  if (!row) {
    if (await insertSubscription(trx, { id: view.id, ...owner }, fields, asOf, invoice)) return "apply";
    row = (await lockSubscription(trx, view.id))!; // a concurrent first sight won: decide against it
  }
  const ended = (s: string) => ENDED_SUBSCRIPTION_STATUSES.includes(s);
  const sub = mirrorDecision(
    { asOf: row.stripe_updated, final: ended(row.status) },
    { asOf, final: ended(fields.status) },
    sameFields(row, fields),
  );
  if (sub === "apply") await updateSubscriptionFields(trx, view.id, fields, asOf);
  if (!invoice) return sub;
  const inv = invoiceDecision(row, invoice, asOf);
  if (inv === "apply") await updateInvoiceFields(trx, view.id, invoice, asOf);
  return combine([sub, inv]);
}

const invoiceFields = (i: LatestInvoiceView): InvoiceFields => ({
  latest_invoice_id: i.id,
  latest_invoice_status: i.status,
  latest_invoice_created: i.createdS,
});

/** Which invoice is the latest by the invoices' own `created`; its status by as-of. */
function invoiceDecision(row: SubscriptionRow, f: InvoiceFields, asOf: number): MirrorDecision {
  const stored =
    row.latest_invoice_id === null
      ? null
      : {
          id: row.latest_invoice_id,
          createdS: row.latest_invoice_created,
          status: row.latest_invoice_status,
          asOf: row.invoice_updated,
        };
  return latestInvoiceDecision(stored, {
    id: f.latest_invoice_id,
    createdS: f.latest_invoice_created,
    status: f.latest_invoice_status,
    asOf,
  });
}

/**
 * An invoice event's state for the subscription's latest-invoice fields: taken only if that
 * invoice is at least as new as the one the row names (an old invoice paid late is not the
 * latest). "missing" when Coffer has no row for the subscription yet: the caller fetches the
 * subscription and mirrors it whole.
 */
export async function mirrorInvoice(
  trx: Trx,
  subscriptionId: string,
  invoice: LatestInvoiceView,
  asOf: number,
): Promise<MirrorDecision | "missing"> {
  const row = await lockSubscription(trx, subscriptionId);
  if (!row) return "missing";
  const f = invoiceFields(invoice);
  const d = invoiceDecision(row, f, asOf);
  if (d === "apply") await updateInvoiceFields(trx, subscriptionId, f, asOf);
  return d;
}

/** The subscription now, with its latest invoice expanded (that invoice's status is mirrored too). */
export const fetchSubscription = (deps: FlowDeps, id: string): Promise<SubscriptionView> =>
  deps.stripe.subscriptions.retrieve(id, { expand: ["latest_invoice"] }).then(readSubscription);

/**
 * Mirrors a state, each in its own transaction, and on a tie fetches the subscription after the
 * tied second and mirrors that, until it settles (src/ledger/subscriptions.ts).
 */
export async function settleSubscription(
  deps: FlowDeps,
  owner: Owner,
  first: SubscriptionView,
  firstAsOf: number,
): Promise<string> {
  let [view, asOf] = [first, firstAsOf];
  for (let round = 0; round < 4; round++) {
    const [v, at] = [view, asOf];
    const d = await withTransaction(deps.db, (trx) => mirrorSubscription(trx, owner, v, at));
    if (d !== "refetch") return d === "apply" ? `subscription_${view.status}` : "subscription_unchanged";
    const fetched = await fetchAfter(at, () => fetchSubscription(deps, v.id));
    [view, asOf] = [fetched.value, fetched.asOf];
  }
  throw new Error(`subscription ${first.id} kept changing while being mirrored; retrying`);
}
