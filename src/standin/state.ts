import type Stripe from "stripe";
import { resourceMissing } from "./errors.js";
import type { StripeEvent } from "./events.js";

/**
 * Terminology
 * - scope: whose books an object sits in: `"platform"`, or a connected account id taken from
 *   the `Stripe-Account` header. Lookups never cross scopes, as in Stripe.
 * - object type: Stripe's `object` field (`payment_intent`, `charge`, …).
 *
 * Each resource file registers its object type by augmenting `ObjectTypes`:
 *   declare module "../state.js" { interface ObjectTypes { refund: Stripe.Refund } }
 */
export interface ObjectTypes {
  payment_intent: Stripe.PaymentIntent;
  charge: Stripe.Charge;
  balance_transaction: Stripe.BalanceTransaction;
  event: StripeEvent;
}
export type ObjectType = keyof ObjectTypes;

export const PLATFORM = "platform";

interface Entry {
  scope: string;
  type: ObjectType;
  object: { id: string };
}

/** In-memory object store. Objects are mutated in place; responses and events take snapshots. */
export class Store {
  // Map keeps insertion order, which is creation order: lists read it backwards (newest first)
  // instead of sorting by `created`, which has one-second resolution.
  readonly #byId = new Map<string, Entry>();

  /**
   * Where clients reach this stand-in (`http://host:port`), for URLs it hands out such as account
   * links. Set by whoever starts the server, which alone knows the bound port.
   */
  publicUrl: string | undefined = undefined;

  insert<K extends ObjectType>(scope: string, type: K, object: ObjectTypes[K]): ObjectTypes[K] {
    this.#byId.set(object.id, { scope, type, object });
    return object;
  }

  get<K extends ObjectType>(scope: string, type: K, id: string): ObjectTypes[K] | undefined {
    const entry = this.#byId.get(id);
    if (!entry || entry.scope !== scope || entry.type !== type) return undefined;
    // Safe: insert() only accepts ObjectTypes[K] under type K.
    return entry.object as ObjectTypes[K];
  }

  /** Like get(), but a miss is Stripe's 404 `resource_missing` naming the parameter. */
  require<K extends ObjectType>(scope: string, type: K, id: string, param = "id"): ObjectTypes[K] {
    const found = this.get(scope, type, id);
    if (!found) throw resourceMissing(type, id, param);
    return found;
  }

  /** Any object by id within a scope, for `expand`. */
  find(scope: string, id: string): { type: ObjectType; object: object } | undefined {
    const entry = this.#byId.get(id);
    return entry && entry.scope === scope ? { type: entry.type, object: entry.object } : undefined;
  }

  /** The scope an id lives in, for control endpoints that act without a Stripe-Account header. */
  scopeOf(id: string): string | undefined {
    return this.#byId.get(id)?.scope;
  }

  /** Newest first, as Stripe lists. */
  list<K extends ObjectType>(
    scope: string,
    type: K,
    filter: (o: ObjectTypes[K]) => boolean = () => true,
  ): ObjectTypes[K][] {
    const out: ObjectTypes[K][] = [];
    for (const entry of this.#byId.values()) {
      if (entry.scope !== scope || entry.type !== type) continue;
      const object = entry.object as ObjectTypes[K];
      if (filter(object)) out.push(object);
    }
    return out.reverse();
  }

  /** Every object of a type in every scope, oldest first. */
  all<K extends ObjectType>(type: K): ObjectTypes[K][] {
    const out: ObjectTypes[K][] = [];
    for (const entry of this.#byId.values()) {
      if (entry.type === type) out.push(entry.object as ObjectTypes[K]);
    }
    return out;
  }
}
