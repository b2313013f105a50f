import { isIPv6 } from "node:net";
import { sharedWindow, take, WINDOW_S, type RateLimitDeps } from "./limit-window.js";

/**
 * Anyone may call POST /webhooks/stripe. What is bounded per client address is the deliveries
 * Coffer *refuses* (no signature, a bad or stale one, too large, aborted): past
 * WEBHOOK_REFUSALS_PER_MINUTE in a minute, counted across web processes in Redis, the address
 * gets 429 until its window ends. A validly signed delivery never counts, and is never refused
 * by the bound: the route still reads and verifies a request whose Stripe-Signature header could
 * verify (mayVerify), since behind one shared address (a proxy, a NAT) Stripe and a flood look
 * alike; only a request whose header cannot verify is refused before its body is read. If
 * Stripe itself is refused (a rotated secret not yet configured) a 429 is retried by Stripe like
 * the 400 was. The address is ctx.ip: the socket's, or behind TRUSTED_PROXY_HOPS proxies the
 * client's as the outermost of them saw it (src/http/app.ts).
 *
 * The decision "this address is over" is kept in each process's memory once Redis has said
 * so, so a blocked flood costs no Redis round trip; another process learns it at the address's
 * next refusal there (one more 400, never more refusals than the bound plus one per process).
 */
export interface WebhookGuard {
  /** Seconds the address must still wait (0: it may be heard). No I/O. */
  blockedForS(address: string): number;
  /** Counts a refused delivery; the seconds to wait if that one went over the bound, else 0. */
  refused(address: string): Promise<number>;
}

const MAX_REMEMBERED = 10_000;

export function createWebhookGuard(deps: RateLimitDeps): WebhookGuard {
  const perMinute = deps.config.WEBHOOK_REFUSALS_PER_MINUTE;
  if (perMinute === 0) return { blockedForS: () => 0, refused: async () => 0 };
  const limiter = sharedWindow(deps.redis, `${deps.config.QUEUE_PREFIX}:rate-limit:webhook`, perMinute);
  const blockedUntil = new Map<string, number>();
  return {
    blockedForS(address) {
      const until = blockedUntil.get(addressKey(address));
      if (until === undefined) return 0;
      const left = until - Date.now();
      if (left > 0) return Math.ceil(left / 1000);
      blockedUntil.delete(addressKey(address));
      return 0;
    },
    async refused(address) {
      const key = addressKey(address);
      const waitS = await take(limiter, key);
      if (waitS > 0) {
        if (blockedUntil.size >= MAX_REMEMBERED) blockedUntil.clear();
        if (!blockedUntil.has(key))
          deps.logger.warn(
            { address: key, limit_per_minute: perMinute, retry_after_s: waitS },
            "webhook refusals from one address over the limit: answering 429 until its window ends",
          );
        blockedUntil.set(key, Date.now() + Math.min(waitS, WINDOW_S) * 1000);
      }
      return waitS;
    },
  };
}

/**
 * The unit an abuser cannot cheaply multiply: an IPv4 address (also when Node reports it as
 * `::ffff:a.b.c.d`), or an IPv6 /64, the block one subscriber usually gets whole.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = "", tail = ""] = address.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = address.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
