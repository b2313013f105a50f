import { invalidRequest } from "./errors.js";
import { EXPANDABLE, INCLUDABLE } from "./expandable.js";
import type { FormObject } from "./form.js";
import { optStringArray } from "./params.js";

/** JSON as it goes on the wire; expansion works on this copy, never on stored objects. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** How expansion reaches other objects, in the request's scope; each call returns a fresh copy. */
export interface Resolver {
  /** The object an id names, or undefined. */
  lookup(id: string): Json | undefined;
  /** A field Stripe builds only when asked (see INCLUDABLE), or undefined. */
  include(object: JsonObject, field: string): Json | undefined;
}

// Stripe refuses expansions deeper than four levels.
const MAX_DEPTH = 4;

export function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function cannotExpand(path: string, hint = ""): Error {
  return invalidRequest(`This property cannot be expanded (${path}).${hint}`, { param: "expand" });
}

/** The longest expandable entry of this object's type that starts `segments`, split. */
function entryFor(object: JsonObject, segments: readonly string[]): string[] | undefined {
  const type = typeof object.object === "string" ? object.object : "";
  const entries = [...(EXPANDABLE[type] ?? [])].map((e) => e.split("."));
  const matching = entries.filter((e) => e.every((seg, i) => segments[i] === seg));
  return matching.sort((a, b) => b.length - a.length)[0];
}

/** A list's `data` applies the rest of the path to each element: `data.latest_charge`. */
function expandList(list: JsonObject, segments: string[], path: string, r: Resolver): void {
  const [head, ...rest] = segments;
  if (head !== "data" || rest.length === 0) {
    const hint = head === "data" ? "" : ` You may want to try expanding 'data.${path}' instead.`;
    throw cannotExpand(path, hint);
  }
  const items = list.data;
  if (!Array.isArray(items)) return;
  for (const item of items) if (isObject(item)) expandPath(item, rest, path, r);
}

/**
 * Replaces an id with the object it names, following a dotted path through the fields Stripe
 * lets `expand` reach (expandable.ts). A null link stays null, as in Stripe.
 */
function expandPath(node: JsonObject, segments: string[], path: string, r: Resolver): void {
  if (node.object === "list") return expandList(node, segments, path, r);
  const entry = entryFor(node, segments);
  if (entry === undefined) throw cannotExpand(path);
  // Cross the plain hashes on the way (`transfer_data` of `transfer_data.destination`).
  let parent: JsonObject = node;
  for (const seg of entry.slice(0, -1)) {
    const next = parent[seg];
    if (!isObject(next)) return; // a null hash: nothing to expand, as in Stripe
    parent = next;
  }
  const field = entry[entry.length - 1] ?? "";
  const type = typeof node.object === "string" ? node.object : "";
  if (!(field in parent) && (INCLUDABLE[type] ?? []).includes(field)) {
    const included = r.include(parent, field);
    if (included !== undefined) parent[field] = included;
  }
  let value = parent[field] ?? null;
  if (typeof value === "string") {
    const found = r.lookup(value);
    if (found === undefined) {
      // Stripe would expand this; the stand-in does not hold the object (see expandable.ts).
      const message = `Stand-in: cannot expand ${path}: it holds no object '${value}'.`;
      throw invalidRequest(message, { param: "expand" });
    }
    value = found;
    parent[field] = found;
  }
  const rest = segments.slice(entry.length);
  if (rest.length === 0 || value === null) return;
  if (!isObject(value)) throw cannotExpand(path);
  expandPath(value, rest, path, r);
}

/** Expands `params.expand` (from `expand[]` or `expand[0]`) in place on a response body. */
export function applyExpand(body: Json, params: FormObject, r: Resolver): Json {
  const paths = optStringArray(params, "expand") ?? [];
  if (paths.length === 0 || !isObject(body)) return body;
  // Order does not matter: a path expands every id it crosses and walks through objects that an
  // earlier path already expanded.
  for (const path of paths) {
    const segments = path.split(".");
    if (segments.length > MAX_DEPTH) throw cannotExpand(path);
    expandPath(body, segments, path, r);
  }
  return body;
}
