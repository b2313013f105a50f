/**
 * What Postgres cannot store as text: a NUL (U+0000; text and jsonb both refuse it, 22021 /
 * 22P05) and a lone UTF-16 surrogate (no UTF-8 encoding exists). Input is checked against this
 * at the edge, so such text is refused with a 4xx instead of failing inside a query with a 500.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isStorableText(s: string): boolean {
  return !s.includes("\u0000") && !LONE_SURROGATE.test(s);
}

/**
 * The first unstorable string (key or value) in a parsed JSON value, with its path, or null.
 * Iterative, so a deeply nested value cannot overflow the stack.
 */
export function findUnstorableText(value: unknown): string | null {
  const stack: Array<[unknown, string]> = [[value, "$"]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      if (!isStorableText(v)) return path;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${path}[${i}]`]));
    } else if (typeof v === "object" && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        if (!isStorableText(k)) return `${path}.<key>`;
        stack.push([item, `${path}.${k}`]);
      }
    }
  }
  return null;
}

/**
 * How deeply a JSON text nests, read from the text itself (brackets outside strings), so a
 * 100,000-deep document is measured before anything recursive (jsonb's parser) meets it.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/**
 * Whether a JSON text may hold, once parsed, text Postgres cannot store: the webhook's fast path
 * (issue 9), so the walk of findUnstorableText runs only when it can find something. In JSON
 * text a NUL or a lone surrogate can only be written as a `\u` escape: JSON.parse refuses raw
 * control characters, and text decoded from UTF-8 holds no lone surrogate (invalid bytes become
 * U+FFFD). A false alarm (an escaped backslash before a `u`) costs only the walk.
 */
export const mayHoldUnstorableText = (jsonText: string): boolean =>
  /\\u(?:0000|[dD][89a-fA-F])/.test(jsonText);

/**
 * Whether a JSON text may nest deeper than `max`: only if it has more than `max` opening
 * brackets, which indexOf counts far faster than jsonDepth reads the text (in or out of strings).
 */
export function mayNestDeeperThan(jsonText: string, max: number): boolean {
  let n = 0;
  for (const bracket of ["{", "["])
    for (let i = jsonText.indexOf(bracket); i >= 0 && n <= max; i = jsonText.indexOf(bracket, i + 1)) n++;
  return n > max;
}
