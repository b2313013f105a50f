import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * Coffer's own ids: `prefix_` + 9 base36 chars of milliseconds + 12 random.
 * They sort roughly by creation time, which is all cursor pagination needs
 * (any total order works; this one also reads newest-first).
 */
export function newId(prefix: string): string {
  const time = Date.now().toString(36).padStart(9, "0");
  const bytes = randomBytes(12);
  let rand = "";
  for (const b of bytes) rand += ALPHABET[b % 36];
  return `${prefix}_${time}${rand}`;
}
