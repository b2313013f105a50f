import { paramError, resourceMissing } from "./errors.js";
import type { FormObject } from "./form.js";
import { optInt, optObject, optString } from "./params.js";
import type { Sequence } from "./state.js";

/** Params every list endpoint accepts besides its own filters. */
export const LIST_PARAMS = ["limit", "starting_after", "ending_before", "expand"] as const;

export interface ListResponse<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  url: string;
}

/** A list Stripe keeps newest first (such as a transfer's reversals) as a sequence, oldest first. */
export function newestFirst<T extends { id: string }>(items: readonly T[]): Sequence<T> {
  const oldestFirst = [...items].reverse();
  return { items: oldestFirst, indexOf: (id) => oldestFirst.findIndex((x) => x.id === id) };
}

/**
 * Stripe's cursor pagination, newest first. `starting_after` pages towards older items,
 * `ending_before` towards newer ones; an unknown cursor (or one the filters exclude) is a 404
 * naming the cursor param, as in Stripe. The cursor is found by its position and the walk stops
 * one item past the page, so a page costs its own length plus the items the filter skips, not
 * the length of the whole sequence.
 */
export function paginate<T extends { id: string }>(
  sequence: Sequence<T>,
  params: FormObject,
  url: string,
  objectName: string,
  filter: (item: T) => boolean = () => true,
): ListResponse<T> {
  const limit = optInt(params, "limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw paramError("Invalid limit: must be between 1 and 100.", "limit", "parameter_invalid_integer");
  }
  const after = optString(params, "starting_after");
  const before = optString(params, "ending_before");
  const { items } = sequence;
  const positionOf = (id: string, param: string): number => {
    const i = sequence.indexOf(id);
    const item = items[i];
    if (item === undefined || !filter(item)) throw resourceMissing(objectName, id, param);
    return i;
  };
  // Collects up to limit + 1 matches walking from `from` in `step` direction; the extra one only
  // tells whether there is more.
  const walk = (from: number, step: 1 | -1): T[] => {
    const found: T[] = [];
    for (let i = from; i >= 0 && i < items.length && found.length <= limit; i += step) {
      const item = items[i] as T;
      if (filter(item)) found.push(item);
    }
    return found;
  };
  if (before !== undefined && after === undefined) {
    const newer = walk(positionOf(before, "ending_before") + 1, 1);
    const data = newer.slice(0, limit).reverse();
    return { object: "list", data, has_more: newer.length > limit, url };
  }
  const start = after === undefined ? items.length - 1 : positionOf(after, "starting_after") - 1;
  const older = walk(start, -1);
  return { object: "list", data: older.slice(0, limit), has_more: older.length > limit, url };
}

/**
 * A filter for a timestamp param given either exactly (`created=123`) or as a range
 * (`created[gte]=…&created[lt]=…`). Absent param → accepts everything.
 */
export function rangeFilter(params: FormObject, name: string): (value: number) => boolean {
  if (typeof params[name] === "string") {
    const exact = optInt(params, name);
    return (v) => v === exact;
  }
  const range = optObject(params, name);
  if (range === undefined) return () => true;
  const bound = (op: string): number | undefined => {
    if (!["gt", "gte", "lt", "lte"].includes(op)) {
      throw paramError(`Received unknown parameter: ${name}[${op}]`, `${name}[${op}]`, "parameter_unknown");
    }
    return optInt(range, op);
  };
  for (const op of Object.keys(range)) bound(op);
  const gt = optInt(range, "gt");
  const gte = optInt(range, "gte");
  const lt = optInt(range, "lt");
  const lte = optInt(range, "lte");
  return (v) =>
    (gt === undefined || v > gt) &&
    (gte === undefined || v >= gte) &&
    (lt === undefined || v < lt) &&
    (lte === undefined || v <= lte);
}
