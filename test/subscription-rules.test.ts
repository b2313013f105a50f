import { describe, expect, it } from "vitest";
import {
  latestInvoiceDecision,
  mirrorDecision,
  notificationKey,
  setupStatusOf,
  type LatestInvoiceState,
  type MirrorState,
} from "../src/ledger/subscriptions.js";
import { rng } from "./support/stripe-client.js";

/**
 * The mirrors' ordering rule, against a model of Stripe: an object goes through states, each
 * reported by an event whose `created` has one-second resolution (so several share a second),
 * and Stripe answers a fetch with the last state. Delivered in any order, with copies, and with
 * fetches that see only Stripe's current state, the mirror always ends in that state.
 */
interface Event {
  state: string;
  asOf: number;
  final: boolean;
}

interface Row {
  state: string;
  asOf: number;
  final: boolean;
}

/** Applies one event as the flows do: decide, and on a tie fetch after its second (asOf + 1). */
function apply(row: Row | null, e: Event, stripeNow: Event, clockS: number): Row | null {
  let incoming: Event = e;
  for (let round = 0; round < 4; round++) {
    const stored: MirrorState | null = row && { asOf: row.asOf, final: row.final };
    const d = mirrorDecision(
      stored,
      { asOf: incoming.asOf, final: incoming.final },
      row?.state === incoming.state,
    );
    if (d === "apply") return { state: incoming.state, asOf: incoming.asOf, final: incoming.final };
    if (d === "skip") return row;
    // fetchAfter: waits out the tied second, so the fetch's as-of is later than every event so far.
    incoming = { ...stripeNow, asOf: Math.max(clockS, incoming.asOf + 1) };
  }
  throw new Error("did not settle");
}

function lifecycle(rand: () => number): Event[] {
  const n = 2 + Math.floor(rand() * 7);
  let t = 1_000;
  const events: Event[] = [];
  for (let i = 0; i < n; i++) {
    t += rand() < 0.6 ? 0 : 1 + Math.floor(rand() * 3); // ties are the common case
    const last = i === n - 1;
    const final = last && rand() < 0.4;
    // States repeat too (active → past_due → active), which a rank could not order.
    events.push({ state: final ? "canceled" : `s${Math.floor(rand() * 3)}`, asOf: t, final });
  }
  return events;
}

function shuffledWithCopies<T>(xs: T[], rand: () => number): T[] {
  const out = xs.flatMap((x) => Array.from({ length: 1 + Math.floor(rand() * 3) }, () => x));
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("the mirrors' ordering rule", () => {
  it("ends in Stripe's current state for every order of arrival, with copies (2,000 lifecycles)", () => {
    const rand = rng(20261203);
    for (let run = 0; run < 2_000; run++) {
      const events = lifecycle(rand);
      const stripeNow = events[events.length - 1]!;
      const clockS = stripeNow.asOf; // events arrive after they happened: the clock is past them
      let row: Row | null = null;
      for (const e of shuffledWithCopies(events, rand)) row = apply(row, e, stripeNow, clockS);
      expect(row?.state, JSON.stringify(events)).toBe(stripeNow.state);
      expect(row!.asOf).toBeGreaterThanOrEqual(stripeNow.asOf);
    }
  });

  it("never lets a strictly older snapshot replace a newer one, whatever it says", () => {
    const row = { asOf: 100, final: false };
    expect(mirrorDecision(row, { asOf: 99, final: false }, false)).toBe("skip");
    expect(mirrorDecision(row, { asOf: 99, final: true }, false)).toBe("skip");
    expect(mirrorDecision(row, { asOf: 101, final: false }, true)).toBe("apply"); // the as-of moves on
    expect(mirrorDecision(row, { asOf: 100, final: false }, true)).toBe("skip");
    expect(mirrorDecision(row, { asOf: 100, final: false }, false)).toBe("refetch");
    expect(mirrorDecision(null, { asOf: 1, final: false }, false)).toBe("apply");
  });

  it("keeps a final state against anything not final, even newer", () => {
    const ended = { asOf: 100, final: true };
    expect(mirrorDecision(ended, { asOf: 200, final: false }, false)).toBe("skip");
    expect(mirrorDecision(ended, { asOf: 200, final: true }, false)).toBe("apply");
  });

  it("names a SetupIntent back at requires_payment_method with an error `failed`", () => {
    expect(setupStatusOf({ status: "requires_payment_method", hasError: true })).toBe("failed");
    expect(setupStatusOf({ status: "requires_payment_method", hasError: false })).toBe(
      "requires_payment_method",
    );
    expect(setupStatusOf({ status: "requires_action", hasError: true })).toBe("requires_action");
  });

  it("keys one notification per subscription and trial end, and per invoice", () => {
    expect(notificationKey.trialWillEnd("sub_1", 100)).not.toBe(notificationKey.trialWillEnd("sub_1", 200));
    expect(notificationKey.paymentFailed("in_1")).toBe(notificationKey.paymentFailed("in_1"));
  });
});

/**
 * The latest-invoice rule against a model of Billing: a subscription generates invoices one
 * after another (`created` increasing, sometimes within one second), each goes through statuses
 * reported by events, and an older invoice's events (paid late) may come after a newer invoice
 * exists. Stripe's `latest_invoice` is the newest invoice; a fetch sees it with its last status.
 */
function invoiceLifecycle(rand: () => number): LatestInvoiceState[] {
  const events: LatestInvoiceState[] = [];
  let createdS = 1_000;
  const n = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < n; k++) {
    createdS += rand() < 0.2 ? 0 : 1 + Math.floor(rand() * 50);
    const id = `in_${String.fromCharCode(97 + Math.floor(rand() * 26))}${k}`;
    let asOf = createdS;
    for (let j = 1 + Math.floor(rand() * 3); j > 0; j--) {
      asOf += rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 120); // late payments reach past newer invoices
      events.push({ id, createdS, status: `s${Math.floor(rand() * 3)}`, asOf });
    }
  }
  return events;
}

describe("the latest-invoice rule", () => {
  it("ends on the newest invoice and its last status for every order of arrival (2,000 runs)", () => {
    const rand = rng(20261204);
    for (let run = 0; run < 2_000; run++) {
      const events = invoiceLifecycle(rand);
      const newest = [...events].sort(
        (a, b) => a.createdS! - b.createdS! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      )[events.length - 1]!;
      const ofNewest = events.filter((e) => e.id === newest.id);
      const stripeNow = ofNewest.reduce((a, b) => (b.asOf >= a.asOf ? b : a));
      const clockS = Math.max(...events.map((e) => e.asOf));
      let row: LatestInvoiceState | null = null;
      for (const e of shuffledWithCopies(events, rand)) {
        let incoming = e;
        for (let round = 0; ; round++) {
          if (round === 4) throw new Error("did not settle");
          const d = latestInvoiceDecision(row, incoming);
          if (d === "apply") row = incoming;
          if (d !== "refetch") break;
          incoming = { ...stripeNow, asOf: Math.max(clockS, incoming.asOf + 1) };
        }
      }
      // Same-second statuses of one invoice are told apart by a fetch; its status is then Stripe's last.
      expect([row?.id, row?.status], JSON.stringify(events)).toEqual([newest.id, stripeNow.status]);
    }
  });

  it("never lets an older invoice's newer event replace the newer invoice", () => {
    const stored = { id: "in_new", createdS: 200, status: "open", asOf: 200 };
    expect(latestInvoiceDecision(stored, { id: "in_old", createdS: 100, status: "paid", asOf: 900 })).toBe(
      "skip",
    );
    expect(latestInvoiceDecision(stored, { id: "in_next", createdS: 300, status: "open", asOf: 150 })).toBe(
      "apply",
    );
    expect(latestInvoiceDecision(stored, { id: "in_new", createdS: 200, status: "paid", asOf: 201 })).toBe(
      "apply",
    );
    expect(latestInvoiceDecision(stored, { id: "in_new", createdS: 200, status: "paid", asOf: 199 })).toBe(
      "skip",
    );
    // A row from before `created` was kept: the as-of rule, until it learns one.
    const legacy = { ...stored, createdS: null };
    expect(latestInvoiceDecision(legacy, { id: "in_old", createdS: 100, status: "paid", asOf: 900 })).toBe(
      "apply",
    );
  });
});
