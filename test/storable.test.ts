import { describe, expect, it } from "vitest";
import {
  findUnstorableText,
  jsonDepth,
  mayHoldUnstorableText,
  mayNestDeeperThan,
} from "../src/db/storable.js";
import { MAX_EVENT_DEPTH, parseEvent } from "../src/stripe/verify.js";

/**
 * The webhook's guards (issue 9) skip findUnstorableText and jsonDepth when the raw text cannot
 * hold what they look for. A false alarm only costs the walk; a false negative would let a NUL
 * or a lone surrogate reach Postgres (a 500) or a deep document reach jsonb's parser, so these
 * properties hunt for false negatives over random texts, written every way JSON allows.
 */

/** mulberry32: seeded, so a failure names the case that reproduces it. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = ReturnType<typeof rng>;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Code units that matter: NUL, both surrogate halves, a pair's parts, backslash, quote, `u`, brackets, controls. */
const UNITS = [
  0x0000, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xd83d, 0xde00, 0x005c, 0x0022, 0x0075, 0x0030, 0x0044, 0x0064,
  0x007b, 0x005b, 0x007d, 0x005d, 0x0001, 0x001f, 0x000a, 0xfffd, 0x00e9, 0x0041,
];

function randomString(r: Rand): string {
  const n = Math.floor(r() * 8);
  let s = "";
  for (let i = 0; i < n; i++) {
    const roll = r();
    if (roll < 0.6) s += String.fromCharCode(pick(r, UNITS));
    else if (roll < 0.7)
      s += "😀"; // a well-formed pair, storable
    else if (roll < 0.8)
      s += "\\u0000"; // the text of an escape, storable once parsed
    else s += String.fromCharCode(0x20 + Math.floor(r() * 0x5f));
  }
  return s;
}

function randomValue(r: Rand, depth: number): unknown {
  const roll = r();
  if (depth > 4 || roll < 0.35) return pick(r, [() => randomString(r), () => 42, () => null, () => true])();
  if (roll < 0.65) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 4); i > 0; i--) o[randomString(r)] = randomValue(r, depth + 1);
  return o;
}

const hex4 = (r: Rand, unit: number) => {
  const h = unit.toString(16).padStart(4, "0");
  // JSON's hex digits are case-insensitive: any mix must be recognised.
  return [...h].map((c) => (r() < 0.5 ? c.toUpperCase() : c)).join("");
};

/** A JSON text for `v`, escaping code units at random (`\uXXXX` in any case, or the short forms), as any sender may. */
function serialise(r: Rand, v: unknown): string {
  if (typeof v === "string") {
    let out = '"';
    for (let i = 0; i < v.length; i++) {
      const u = v.charCodeAt(i);
      const mustEscape = u < 0x20 || u === 0x22 || u === 0x5c || (u >= 0xd800 && u <= 0xdfff);
      if (mustEscape || r() < 0.2) {
        const short = { 0x22: '\\"', 0x5c: "\\\\", 0x0a: "\\n" }[u];
        out += short !== undefined && r() < 0.5 ? short : `\\u${hex4(r, u)}`;
      } else out += v[i];
    }
    return `${out}"`;
  }
  if (Array.isArray(v)) return `[${v.map((x) => serialise(r, x)).join(pick(r, [",", " , ", ",\n"]))}]`;
  if (typeof v === "object" && v !== null)
    return `{${Object.entries(v)
      .map(([k, x]) => `${serialise(r, k)}${pick(r, [":", " : "])}${serialise(r, x)}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** What the webhook sees: the text as it arrives in UTF-8 bytes, decoded (a raw lone surrogate cannot survive that). */
const overTheWire = (text: string) => Buffer.from(text, "utf8").toString("utf8");

describe("mayHoldUnstorableText", () => {
  it("never misses a NUL or a lone surrogate, escaped any way or written raw (20,000 random documents)", () => {
    const r = rng(20261204);
    let unstorable = 0;
    for (let i = 0; i < 20_000; i++) {
      const value = randomValue(r, 0);
      const texts = [serialise(r, value), JSON.stringify(value), overTheWire(serialise(r, value))];
      // Raw, unescaped: only parses where nothing needed escaping, but must not be missed then either.
      if (typeof value === "string") texts.push(overTheWire(`"${value}"`));
      for (const text of texts) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          continue;
        }
        if (findUnstorableText(parsed) === null) continue;
        unstorable++;
        expect(mayHoldUnstorableText(text), `case ${i}: ${JSON.stringify(text)}`).toBe(true);
      }
    }
    // The generator must actually produce what the guard looks for, or the property proves nothing.
    expect(unstorable).toBeGreaterThan(5_000);
  });

  it("is false for a Stripe-shaped event without such escapes, so the webhook skips the walk", () => {
    const text = JSON.stringify({ id: "evt_1", data: { object: { name: "Zoë 😀", note: "a\\u0041" } } });
    expect(mayHoldUnstorableText(text)).toBe(false);
    expect(mayHoldUnstorableText(String.raw`{"a":"\u00e9\u0041"}`)).toBe(false);
  });

  it("flags each form of escape the walk would find", () => {
    for (const esc of ["\\u0000", "\\uD800", "\\udbff", "\\uDc00", "\\udFFF"])
      expect(mayHoldUnstorableText(`{"a":"x${esc}"}`), esc).toBe(true);
  });
});

describe("mayNestDeeperThan", () => {
  it("never misses a document deeper than the limit (random nesting, brackets in strings too)", () => {
    const r = rng(9);
    let deep = 0;
    for (let i = 0; i < 3_000; i++) {
      const levels = Math.floor(r() * 40);
      const max = Math.floor(r() * 40);
      let text = "1";
      for (let d = 0; d < levels; d++) {
        const noise = r() < 0.3 ? `${serialise(r, randomString(r))},` : "";
        text =
          r() < 0.5 ? `[${noise}${text}]` : `{"k${d}":${text}${noise ? `,"n":${noise.slice(0, -1)}` : ""}}`;
      }
      expect(JSON.parse(text)).toBeDefined();
      if (jsonDepth(text) <= max) continue;
      deep++;
      expect(mayNestDeeperThan(text, max), `case ${i}: ${text}`).toBe(true);
    }
    expect(deep).toBeGreaterThan(500);
  });

  it("counts both kinds of bracket, and stops early on a 100,000-deep document", () => {
    expect(mayNestDeeperThan("[{[{}]}]", 3)).toBe(true);
    expect(mayNestDeeperThan("[{[{}]}]", 4)).toBe(false);
    expect(mayNestDeeperThan(`${"[".repeat(100_000)}${"]".repeat(100_000)}`, MAX_EVENT_DEPTH)).toBe(true);
  });
});

describe("parseEvent with the guards", () => {
  const envelope = (inner: string) =>
    `{"id":"evt_1","object":"event","type":"payment_intent.succeeded","livemode":false,"created":1,"data":{"object":${inner}}}`;

  it("still refuses an unstorable string and a deep document, and passes the rest through decoded once", () => {
    for (const inner of [
      String.raw`{"a":"\u0000"}`,
      String.raw`{"k\uDC00":1}`,
      String.raw`{"a":["\ud800x"]}`,
    ])
      expect(parseEvent(Buffer.from(envelope(inner))).ok, inner).toBe("unusable");
    const deep = `${'{"a":'.repeat(MAX_EVENT_DEPTH)}1${"}".repeat(MAX_EVENT_DEPTH)}`;
    expect(parseEvent(Buffer.from(envelope(deep))).ok).toBe("unusable");
    const fine = envelope(String.raw`{"a":"\ud83d\ude00 \u00e9"}`);
    const v = parseEvent(Buffer.from(fine));
    expect(v.ok).toBe(true);
    if (v.ok === true) expect(v.text).toBe(fine);
  });
});
