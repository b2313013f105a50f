import {
  insertPlan,
  lockPlan,
  lockProductPlans,
  updatePrice,
  updateProduct,
  type PlanRow,
  type PriceFields,
  type ProductFields,
} from "../db/stores/plans.js";
import { withTransaction, type Trx } from "../db/transaction.js";
import { mirrorDecision, type MirrorDecision } from "../ledger/subscriptions.js";
import {
  price as readPrice,
  product as readProduct,
  type PriceView,
  type ProductView,
} from "../stripe/billing-snapshots.js";
import { classifyStripeError } from "../stripe/errors.js";
import type { FlowDeps } from "./deps.js";
import { fetchAfter, requestSecond } from "./mirror-fetch.js";

/** A price as Coffer last heard of it: deleted prices are final, and keep their last fields. */
export interface PriceState {
  view: PriceView;
  deleted: boolean;
  asOf: number;
}

const priceFields = (s: PriceState): PriceFields => ({
  product_id: s.view.productId,
  unit_amount_minor: s.view.unitAmountMinor,
  currency: s.view.currency,
  interval: s.view.interval,
  interval_count: s.view.intervalCount,
  trial_period_days: s.view.trialPeriodDays,
  price_active: s.view.active && !s.deleted,
  price_deleted: s.deleted,
});
const productFields = (p: ProductView): ProductFields => ({ name: p.name, product_active: p.active });
const samePrice = (row: PlanRow, f: PriceFields) =>
  (Object.keys(f) as Array<keyof PriceFields>).every((k) => row[k] === f[k]);
const sameProduct = (row: PlanRow, f: ProductFields) =>
  row.name === f.name && row.product_active === f.product_active;

/** Applies a product's state to its rows, each by its own as-of; "refetch" when any row ties. */
async function applyProduct(
  trx: Trx,
  rows: PlanRow[],
  p: ProductView,
  asOf: number,
): Promise<MirrorDecision> {
  const f = productFields(p);
  const decisions = rows.map((r) =>
    mirrorDecision({ asOf: r.product_updated, final: false }, { asOf, final: false }, sameProduct(r, f)),
  );
  await updateProduct(
    trx,
    rows.filter((_, i) => decisions[i] === "apply").map((r) => r.price_id),
    f,
    asOf,
  );
  return decisions.includes("refetch") ? "refetch" : decisions.includes("apply") ? "apply" : "skip";
}

/** The price now, with its product; a price Stripe no longer has was deleted. */
async function fetchPrice(deps: FlowDeps, last: PriceView, tieS: number): Promise<PriceState> {
  try {
    const { value, asOf } = await fetchAfter(tieS, () =>
      deps.stripe.prices.retrieve(last.id, { expand: ["product"] }),
    );
    return { view: readPrice(value), deleted: false, asOf };
  } catch (err) {
    if (classifyStripeError(err) !== "missing") throw err;
    return { view: { ...last, active: false }, deleted: true, asOf: requestSecond() };
  }
}

/**
 * Mirrors one price (a price event's snapshot, a fetched price or a sync page's): newer state
 * is stored, older is not, a tie is settled by fetching (src/ledger/subscriptions.ts). A price
 * first seen without its product is fetched once with it, for the name. One-time prices are no
 * plans and are not stored.
 */
export async function syncPrice(deps: FlowDeps, first: PriceState): Promise<string> {
  let s = first;
  for (let round = 0; round < 4; round++) {
    if (s.view.interval === null) return "not_a_plan";
    const state = s;
    const outcome = await withTransaction(deps.db, async (trx) => {
      const row = await lockPlan(trx, state.view.id);
      if (!row) {
        if (!state.view.product) return "missing";
        const inserted = await insertPlan(
          trx,
          state.view.id,
          priceFields(state),
          productFields(state.view.product),
          state.asOf,
        );
        return inserted ? "apply" : "retry";
      }
      const f = priceFields(state);
      const d = mirrorDecision(
        { asOf: row.stripe_updated, final: row.price_deleted },
        { asOf: state.asOf, final: state.deleted },
        samePrice(row, f),
      );
      if (d === "apply") await updatePrice(trx, state.view.id, f, state.asOf);
      const p = state.view.product ? await applyProduct(trx, [row], state.view.product, state.asOf) : "skip";
      return d === "refetch" || p === "refetch" ? "refetch" : d;
    });
    if (outcome === "apply" || outcome === "skip")
      return outcome === "apply" ? "plan_updated" : "plan_unchanged";
    if (outcome === "missing" && s.deleted) return "unknown_price_deleted";
    if (outcome === "refetch" || outcome === "missing")
      s = await fetchPrice(deps, s.view, outcome === "refetch" ? s.asOf : 0);
  }
  throw new Error(`price ${first.view.id} kept changing while being mirrored; retrying`);
}

/** `product.updated` / `product.deleted`: the name and state of every plan of the product. */
export async function syncProduct(deps: FlowDeps, first: ProductView, eventCreated: number): Promise<string> {
  let p = first;
  let asOf = eventCreated;
  for (let round = 0; round < 4; round++) {
    const [state, at] = [p, asOf];
    const outcome = await withTransaction(deps.db, async (trx) => {
      const rows = await lockProductPlans(trx, state.id);
      return rows.length === 0 ? "none" : applyProduct(trx, rows, state, at);
    });
    if (outcome === "none") return "product_has_no_plans";
    if (outcome !== "refetch") return outcome === "apply" ? "plans_renamed_or_restated" : "plans_unchanged";
    try {
      const fetched = await fetchAfter(at, () => deps.stripe.products.retrieve(state.id));
      [p, asOf] = [readProduct(fetched.value), fetched.asOf];
    } catch (err) {
      if (classifyStripeError(err) !== "missing") throw err;
      [p, asOf] = [{ ...state, active: false, deleted: true }, requestSecond()];
    }
  }
  throw new Error(`product ${first.id} kept changing while being mirrored; retrying`);
}
