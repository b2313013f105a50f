import { invalidRequest } from "./errors.js";
import type { FormObject } from "./form.js";
import { optStringArray } from "./params.js";

/** JSON as it goes on the wire; expansion works on this copy, never on stored objects. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Looks an id up in the request's scope and returns a fresh JSON copy, or undefined. */
export type Lookup = (id: string) => Json | undefined;

// Stripe refuses expansions deeper than four levels.
const MAX_DEPTH = 4;

export function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function cannotExpand(path: string): Error {
  return invalidRequest(`This property cannot be expanded (${path}).`, { param: "expand" });
}

/**
 * Replaces id strings with the objects they name, following dotted paths. An array on the path
 * applies the rest of the path to each element, which is how `data.latest_charge` works on lists.
 * A null link stays null, as in Stripe; a field that is not an id of a known object is an error.
 */
function expandPath(node: JsonObject, segments: string[], path: string, lookup: Lookup): void {
  const [head, ...rest] = segments;
  if (head === undefined) return;
  if (!(head in node)) throw cannotExpand(path);
  let value = node[head] ?? null;
  if (typeof value === "string") {
    const found = lookup(value);
    if (found === undefined) throw cannotExpand(path);
    value = found;
    node[head] = found;
  }
  if (rest.length === 0 || value === null) return;
  const targets = Array.isArray(value) ? value : [value];
  for (const target of targets) {
    if (!isObject(target)) throw cannotExpand(path);
    expandPath(target, rest, path, lookup);
  }
}

/** Expands `params.expand` (from `expand[]` or `expand[0]`) in place on a response body. */
export function applyExpand(body: Json, params: FormObject, lookup: Lookup): Json {
  const paths = optStringArray(params, "expand") ?? [];
  if (paths.length === 0 || !isObject(body)) return body;
  // Order does not matter: a path expands every id it crosses and walks through objects that an
  // earlier path already expanded.
  for (const path of paths) {
    const segments = path.split(".");
    if (segments.length > MAX_DEPTH) throw cannotExpand(path);
    expandPath(body, segments, path, lookup);
  }
  return body;
}
