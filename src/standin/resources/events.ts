import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { paramError } from "../errors.js";
import { matchesEventType } from "../events.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import { allowOnly, optString, optStringArray } from "../params.js";

function retrieve(ctx: ApiContext): object {
  allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "event", pathParam(ctx, "id"));
}

// Stripe's cap on `types[]`.
const MAX_TYPES = 20;

/**
 * `type` is one name or a `payment_intent.*` group; `types[]` is up to 20 exact names. Stripe
 * takes one or the other, never both.
 */
function typeFilter(ctx: ApiContext): (type: string) => boolean {
  const single = optString(ctx.params, "type");
  const several = optStringArray(ctx.params, "types");
  if (single !== undefined && several !== undefined) {
    throw paramError("You may pass either type or types, but not both.", "types");
  }
  if (several !== undefined && (several.length > MAX_TYPES || several.some((t) => t.includes("*")))) {
    throw paramError(`types must be at most ${MAX_TYPES} event names, without wildcards.`, "types");
  }
  const patterns = several ?? (single === undefined ? [] : [single]);
  if (patterns.length === 0) return () => true;
  return (type) => matchesEventType(patterns, type);
}

function list(ctx: ApiContext): object {
  allowOnly(ctx.params, [...LIST_PARAMS, "created", "type", "types"]);
  const created = rangeFilter(ctx.params, "created");
  const type = typeFilter(ctx);
  const items = ctx.store.sequence(ctx.scope, "event");
  return paginate(items, ctx.params, "/v1/events", "event", (e) => created(e.created) && type(e.type));
}

export const eventRoutes: Route[] = [
  { method: "GET", path: "/v1/events/:id", handler: retrieve },
  { method: "GET", path: "/v1/events", handler: list },
];
