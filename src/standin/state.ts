import type Stripe from "stripe";
import { resourceMissing } from "./errors.js";
import type { StripeEvent } from "./events.js";

/**
 * Terminology
 * - scope: whose books an object sits in: `"platform"`, or a connected account id taken from
 *   the `Stripe-Account` header. Lookups never cross scopes, as in Stripe.
 * - object type: Stripe's `object` field (`payment_intent`, `charge`, …).
 * - sequence: one type's objects in one scope, oldest first, which is what a list endpoint pages.
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

/** Objects oldest first, and where an id sits among them (-1 when it does not). */
export interface Sequence<T> {
  readonly items: readonly T[];
  indexOf(id: string): number;
}

interface Entry {
  scope: string;
  type: ObjectType;
  object: { id: string };
  /** Index in its scope's sequence of its type, so a list cursor is found without a search. */
  position: number;
}

const sequenceKey = (scope: string, type: ObjectType) => `${scope}\u0000${type}`;

/** In-memory object store. Objects are mutated in place; responses and events take snapshots. */
export class Store {
  readonly #byId = new Map<string, Entry>();
  // Insertion order is creation order: lists read a sequence backwards (newest first) instead
  // of sorting by `created`, which has one-second resolution. One array per scope and type, so
  // listing 100 balance transactions never walks 300,000 events.
  readonly #sequences = new Map<string, { id: string }[]>();
  readonly #byType = new Map<ObjectType, { id: string }[]>();

  /**
   * Where clients reach this stand-in (`http://host:port`), for URLs it hands out such as account
   * links. Set by whoever starts the server, which alone knows the bound port.
   */
  publicUrl: string | undefined = undefined;

  insert<K extends ObjectType>(scope: string, type: K, object: ObjectTypes[K]): ObjectTypes[K] {
    // Ids are random; a second insert is a stand-in bug that would list the object twice.
    if (this.#byId.has(object.id)) throw new Error(`stand-in: ${object.id} stored twice`);
    const key = sequenceKey(scope, type);
    const sequence = this.#sequences.get(key) ?? [];
    this.#sequences.set(key, sequence);
    this.#byId.set(object.id, { scope, type, object, position: sequence.length });
    sequence.push(object);
    const ofType = this.#byType.get(type) ?? [];
    this.#byType.set(type, ofType);
    ofType.push(object);
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

  /** One type's objects in one scope, oldest first: what list endpoints page through. */
  sequence<K extends ObjectType>(scope: string, type: K): Sequence<ObjectTypes[K]> {
    const items = (this.#sequences.get(sequenceKey(scope, type)) ?? []) as ObjectTypes[K][];
    return {
      items,
      indexOf: (id) => {
        const entry = this.#byId.get(id);
        return entry && entry.scope === scope && entry.type === type ? entry.position : -1;
      },
    };
  }

  /** Newest first, as Stripe lists; for small lookups, not for paging. */
  list<K extends ObjectType>(
    scope: string,
    type: K,
    filter: (o: ObjectTypes[K]) => boolean = () => true,
  ): ObjectTypes[K][] {
    return this.sequence(scope, type).items.filter(filter).reverse();
  }

  /** Every object of a type in every scope, oldest first. */
  all<K extends ObjectType>(type: K): ObjectTypes[K][] {
    return [...(this.#byType.get(type) ?? [])] as ObjectTypes[K][];
  }

  /** How many objects of a type exist in every scope. */
  count(type: ObjectType): number {
    return this.#byType.get(type)?.length ?? 0;
  }
}
