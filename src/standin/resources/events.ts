import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import { allowOnly, optString, optStringArray } from "../params.js";

function retrieve(ctx: ApiContext): object {
  allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "event", pathParam(ctx, "id"));
}

/** `type` may end in `*` (`payment_intent.*`), as in Stripe; `types[]` matches any of several. */
function typeFilter(ctx: ApiContext): (type: string) => boolean {
  const single = optString(ctx.params, "type");
  const patterns = [
    ...(single === undefined ? [] : [single]),
    ...(optStringArray(ctx.params, "types") ?? []),
  ];
  if (patterns.length === 0) return () => true;
  return (type) =>
    patterns.some((pat) => (pat.endsWith("*") ? type.startsWith(pat.slice(0, -1)) : type === pat));
}

function list(ctx: ApiContext): object {
  allowOnly(ctx.params, [...LIST_PARAMS, "created", "type", "types"]);
  const created = rangeFilter(ctx.params, "created");
  const type = typeFilter(ctx);
  const items = ctx.store.list(ctx.scope, "event", (e) => created(e.created) && type(e.type));
  return paginate(items, ctx.params, "/v1/events", "event");
}

export const eventRoutes: Route[] = [
  { method: "GET", path: "/v1/events/:id", handler: retrieve },
  { method: "GET", path: "/v1/events", handler: list },
];
