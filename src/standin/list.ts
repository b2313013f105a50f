import { paramError, resourceMissing } from "./errors.js";
import type { FormObject } from "./form.js";
import { optInt, optObject, optString } from "./params.js";

/** Params every list endpoint accepts besides its own filters. */
export const LIST_PARAMS = ["limit", "starting_after", "ending_before", "expand"] as const;

export interface ListResponse<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  url: string;
}

/**
 * Stripe's cursor pagination over items already sorted newest first. `starting_after` pages
 * towards older items, `ending_before` towards newer ones; an unknown cursor is a 404 naming
 * the cursor param, as in Stripe.
 */
export function paginate<T extends { id: string }>(
  items: T[],
  params: FormObject,
  url: string,
  objectName: string,
): ListResponse<T> {
  const limit = optInt(params, "limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw paramError("Invalid limit: must be between 1 and 100.", "limit", "parameter_invalid_integer");
  }
  const after = optString(params, "starting_after");
  const before = optString(params, "ending_before");
  const indexOf = (id: string, param: string): number => {
    const i = items.findIndex((x) => x.id === id);
    if (i < 0) throw resourceMissing(objectName, id, param);
    return i;
  };
  if (before !== undefined && after === undefined) {
    const end = indexOf(before, "ending_before");
    const start = Math.max(0, end - limit);
    return { object: "list", data: items.slice(start, end), has_more: start > 0, url };
  }
  const start = after === undefined ? 0 : indexOf(after, "starting_after") + 1;
  const data = items.slice(start, start + limit);
  return { object: "list", data, has_more: start + limit < items.length, url };
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
