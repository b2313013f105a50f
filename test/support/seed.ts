import { checkInvariants } from "../../src/db/stores/ledger-checks.js";
import { pay, topUpPatiently } from "./api.js";
import { deliver } from "./events.js";
import type { System } from "./system.js";

export interface PaidTopUp {
  user: string;
  amountMinor: number;
  piId: string;
  /** The events Stripe (the stand-in) produced for this payment, in its order. */
  events: Array<Record<string, unknown>>;
}

/**
 * Creates top-ups through the API and pays them at the stand-in with webhook
 * delivery switched off, so the test decides when, how often and in what order
 * Stripe's events arrive. The events are the stand-in's own, real Event objects.
 */
export async function seedPaidTopUps(
  sys: System,
  specs: Array<{ user: string; amountMinor: number }>,
  concurrency = 10,
): Promise<PaidTopUp[]> {
  sys.standin.setWebhook(undefined);
  const out: PaidTopUp[] = new Array(specs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < specs.length) {
        const i = next++;
        const s = specs[i]!;
        const created = await topUpPatiently(sys.url, s.user, s.amountMinor, "usd", `seed-${i}-${s.user}`);
        if (created.status !== 201) throw new Error(`top-up failed: ${JSON.stringify(created.body)}`);
        const piId = created.body.payment_intent_id as string;
        const paid = await pay(sys.standin.url, piId);
        if (paid.status !== 200) throw new Error(`pay failed: ${JSON.stringify(paid.body)}`);
        out[i] = { ...s, piId, events: [] };
      }
    }),
  );
  const byPi = new Map(out.map((t) => [t.piId, t]));
  for (const e of sys.standin.events()) {
    const obj = e.data.object as { id?: string; payment_intent?: string };
    const owner = byPi.get(obj.id ?? "") ?? byPi.get(obj.payment_intent ?? "");
    if (owner && (e.type === "payment_intent.succeeded" || e.type === "charge.succeeded"))
      owner.events.push(e as unknown as Record<string, unknown>);
  }
  return out;
}

/** Delivers events with at most `concurrency` requests in flight; every delivery must get a 2xx. */
export async function deliverAll(
  sys: System,
  events: Array<Record<string, unknown>>,
  concurrency = 20,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < events.length) {
        const e = events[next++]!;
        const res = await deliver(sys.url, e);
        if (res.status !== 200)
          throw new Error(`delivery of ${String(e.id)} answered ${res.status}: ${await res.text()}`);
      }
    }),
  );
}

export async function openEventCount(sys: System): Promise<number> {
  const r = await sys.tdb
    .db("stripe_webhook_events")
    .whereNotIn("status", ["processed", "ignored", "failed"])
    .count({ n: "*" })
    .first();
  return Number(r?.n);
}

export async function expectInvariants(sys: System): Promise<void> {
  const report = await checkInvariants(sys.tdb.db);
  if (!report.ok)
    throw new Error(`ledger invariants violated: ${JSON.stringify(report.violations, null, 2)}`);
}
