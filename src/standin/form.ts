/**
 * Stripe's wire format: `application/x-www-form-urlencoded` bodies and query strings whose keys
 * nest with brackets (`metadata[user_id]=u1`, `expand[]=x`, `expand[0]=x`, `a[0][b]=c`).
 * Values stay strings, as on the wire; each endpoint coerces what it reads (see params.ts).
 */
export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

// Assigning these through brackets would reach Object.prototype.
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Splits `a[b][]` into ["a", "b", ""]; a key with unbalanced brackets is taken literally. */
function splitKey(key: string): string[] {
  const open = key.indexOf("[");
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  const rest = key.slice(open);
  const re = /\[([^[\]]*)\]/gy;
  let consumed = 0;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    segments.push(m[1] ?? "");
    consumed = re.lastIndex;
  }
  return consumed === rest.length ? segments : [key];
}

function isContainer(v: FormValue | undefined): v is FormObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function assign(root: FormObject, segments: string[], value: string): void {
  let node = root;
  for (let i = 0; i < segments.length; i++) {
    let seg = segments[i] ?? "";
    if (FORBIDDEN_KEYS.has(seg)) return;
    // `[]` appends: give it the next free numeric slot so normalize() turns it into an array.
    if (seg === "" && i > 0) seg = String(Object.keys(node).length);
    if (i === segments.length - 1) {
      node[seg] = value;
      return;
    }
    const next = node[seg];
    if (isContainer(next)) {
      node = next;
    } else {
      const created: FormObject = {};
      node[seg] = created;
      node = created;
    }
  }
}

/** Objects whose keys are all array indices become arrays, ordered by index. */
function normalize(value: FormValue): FormValue {
  if (!isContainer(value)) return value;
  const keys = Object.keys(value);
  const out: FormObject = {};
  for (const k of keys) out[k] = normalize(value[k] as FormValue);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((n) => out[String(n)] as FormValue);
  }
  return out;
}

export function parseForm(encoded: string): FormObject {
  const root: FormObject = {};
  for (const [key, value] of new URLSearchParams(encoded)) assign(root, splitKey(key), value);
  // Only nested values become arrays: the top level is always a params object.
  const out: FormObject = {};
  for (const [k, v] of Object.entries(root)) out[k] = normalize(v);
  return out;
}
