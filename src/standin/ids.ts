import { randomInt } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Random base62 string; crypto-random so ids from parallel test files never collide. */
export function randomBase62(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)];
  return out;
}

/** Stripe-looking id such as `pi_3Pq…` (prefix + 24 base62 chars). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(24)}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
