import { randomInt } from "node:crypto";
import { z } from "zod";
import { matchesEventType } from "./events.js";
import type { StripeEvent } from "./events.js";
import { rng } from "./client.js";

/** Body of `POST /_standin/webhooks/drop`; typed against DropRule so the two cannot drift. */
export const dropRuleSchema: z.ZodType<DropRule> = z.strictObject({
  types: z.array(z.string().min(1)).min(1).optional(),
  ratio: z.number().min(0).max(1).optional(),
  seed: z.int().optional(),
});

export interface DropRule {
  /** Event types (or `charge.*` patterns) the rule applies to; default every type. */
  types?: string[];
  /** Share of the matching events whose delivery is dropped; default 1 (all of them). */
  ratio?: number;
  /** Seeds the draw, so a run that failed can be replayed; default random. */
  seed?: number;
}

/**
 * Events whose webhook delivery never happens, standing in for deliveries Stripe gave up on or
 * an endpoint that lost them. The event still exists and `GET /v1/events` lists it, which is
 * what reconciliation heals from.
 */
export class DeliveryDrops {
  #rule: { types: string[] | undefined; ratio: number; draw: () => number } | undefined;
  readonly #dropped: string[] = [];

  /** Replaces any rule in force; undefined stops dropping. */
  set(rule: DropRule | undefined): void {
    this.#rule = rule && {
      types: rule.types,
      ratio: rule.ratio ?? 1,
      draw: rng(rule.seed ?? randomInt(2 ** 31)),
    };
  }

  /** Whether this event's delivery is dropped; a dropped one is remembered. */
  take(event: StripeEvent): boolean {
    const rule = this.#rule;
    if (!rule || (rule.types && !matchesEventType(rule.types, event.type))) return false;
    if (rule.draw() >= rule.ratio) return false;
    this.#dropped.push(event.id);
    return true;
  }

  /** Ids of every event dropped since the stand-in started, oldest first. */
  dropped(): string[] {
    return [...this.#dropped];
  }
}
