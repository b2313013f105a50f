import { paramError } from "./errors.js";
import type { FormObject, FormValue } from "./form.js";

/**
 * Typed reads of form params with Stripe's error messages. Every endpoint declares the params
 * it accepts, so a typo such as `metdata` fails loudly (Stripe's `parameter_unknown`) instead of
 * being silently ignored by the stand-in and then rejected by real Stripe.
 */
export function allowOnly(params: FormObject, allowed: readonly string[]): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw paramError(`Received unknown parameter: ${key}`, key, "parameter_unknown");
    }
  }
}

export function optString(params: FormObject, name: string): string | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw paramError(`Invalid string: ${JSON.stringify(v)}`, name);
  return v;
}

export function reqString(params: FormObject, name: string): string {
  const v = optString(params, name);
  if (v === undefined || v === "") {
    throw paramError(`Missing required param: ${name}.`, name, "parameter_missing");
  }
  return v;
}

/** Integers as Stripe reads them: decimal digits only, so `1.5`, `1e3` and `abc` are refused. */
export function optInt(params: FormObject, name: string): number | undefined {
  const v = optString(params, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n)) {
    throw paramError(`Invalid integer: ${v}`, name, "parameter_invalid_integer");
  }
  return n;
}

export function optBool(params: FormObject, name: string): boolean | undefined {
  const v = optString(params, name);
  if (v === undefined) return undefined;
  if (v !== "true" && v !== "false") throw paramError(`Invalid boolean: ${v}`, name);
  return v === "true";
}

export function optEnum<T extends string>(
  params: FormObject,
  name: string,
  values: readonly T[],
): T | undefined {
  const v = optString(params, name);
  if (v === undefined) return undefined;
  const found = values.find((x) => x === v);
  if (found === undefined) {
    throw paramError(`Invalid ${name}: must be one of ${values.join(", ")}`, name);
  }
  return found;
}

export function optStringArray(params: FormObject, name: string): string[] | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === "string")) {
    throw paramError(`Invalid array`, name);
  }
  return v;
}

export function optObject(params: FormObject, name: string): FormObject | undefined {
  const v: FormValue | undefined = params[name];
  if (v === undefined) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw paramError(`Invalid object`, name);
  return v;
}

/** Stripe's metadata rules; an empty value unsets the key. */
export function applyMetadata(current: Record<string, string>, params: FormObject): Record<string, string> {
  const given = optObject(params, "metadata");
  if (given === undefined) return current;
  const next = { ...current };
  for (const [key, value] of Object.entries(given)) {
    if (typeof value !== "string") throw paramError(`Invalid metadata value for ${key}`, `metadata[${key}]`);
    if (key.length > 40) throw paramError(`Metadata keys can be at most 40 characters.`, `metadata[${key}]`);
    if (value.length > 500) {
      throw paramError(`Metadata values can be at most 500 characters.`, `metadata[${key}]`);
    }
    if (value === "") delete next[key];
    else next[key] = value;
  }
  if (Object.keys(next).length > 50) throw paramError(`Metadata can have at most 50 keys.`, "metadata");
  return next;
}
