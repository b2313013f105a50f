import { describe, expect, it } from "vitest";
import { lineRule, type BalanceTxn } from "../src/ledger/claims.js";
import { toEntries } from "../src/ledger/posting.js";
import type { Currency } from "../src/money/currencies.js";

/** The pure rule from one Stripe balance transaction to the keys it claims and the postings it books. */
const line = (over: Partial<BalanceTxn>): BalanceTxn => ({
  id: "txn_1",
  type: "charge",
  reportingCategory: "charge",
  sourceId: "ch_1",
  amountMinor: 1_000,
  feeMinor: 59,
  netMinor: 941,
  currency: "usd" as Currency,
  exchangeRate: null,
  paymentIntentId: "pi_1",
  withdrawalId: null,
  paymentIsTopUp: true,
  invoiceId: null,
  beforeBooks: false,
  ...over,
});

/** What the bookings do to the `stripe` account: a line's own bookings never exceed its net. */
const stripeDelta = (l: BalanceTxn) =>
  lineRule(l)
    .bookings.flatMap((p) => toEntries(p))
    .filter((e) => e.account.type === "platform" && e.account.name === "stripe")
    .reduce((s, e) => s + e.amountMinor, 0);

describe("lineRule", () => {
  const cases: Array<[string, Partial<BalanceTxn>, string[], string[]]> = [
    ["card charge", {}, ["txn_1:fee", "pi_1:captured"], ["txn_1:fee"]],
    [
      "non-card payment (py_)",
      { type: "payment", sourceId: "py_1" },
      ["txn_1:fee", "pi_1:captured"],
      ["txn_1:fee"],
    ],
    ["charge without fee", { feeMinor: 0, netMinor: 1_000 }, ["pi_1:captured"], []],
    [
      "a subscription invoice's charge",
      { paymentIsTopUp: false, invoiceId: "in_1" },
      ["txn_1:fee", "in_1:paid"],
      ["txn_1:fee"],
    ],
    [
      "converted charge",
      { exchangeRate: 1.08, amountMinor: 1_080, netMinor: 1_021 },
      ["txn_1:fee", "txn_1:fx", "pi_1:captured"],
      ["txn_1:fee", "txn_1:fx"],
    ],
    [
      "refund",
      {
        type: "refund",
        reportingCategory: "refund",
        sourceId: "re_1",
        amountMinor: -500,
        feeMinor: 0,
        netMinor: -500,
      },
      ["re_1:refunded"],
      [],
    ],
    [
      "pyr_ refund",
      {
        type: "payment_refund",
        reportingCategory: "refund",
        sourceId: "pyr_1",
        amountMinor: -5,
        feeMinor: 0,
        netMinor: -5,
      },
      ["pyr_1:refunded"],
      [],
    ],
    [
      "refund failure",
      {
        type: "refund_failure",
        reportingCategory: "refund_failure",
        sourceId: "re_1",
        amountMinor: 500,
        feeMinor: 0,
        netMinor: 500,
      },
      ["re_1:reversed"],
      [],
    ],
    [
      "dispute withdrawal with fee",
      {
        type: "adjustment",
        reportingCategory: "dispute",
        sourceId: "dp_1",
        amountMinor: -1_000,
        feeMinor: 1_500,
        netMinor: -2_500,
      },
      ["dp_1:withdrawn", "dp_1:fee"],
      ["dp_1:fee"],
    ],
    [
      "dispute reinstated",
      {
        type: "adjustment",
        reportingCategory: "dispute_reversal",
        sourceId: "dp_1",
        amountMinor: 1_000,
        feeMinor: 0,
        netMinor: 1_000,
      },
      ["dp_1:reinstated"],
      [],
    ],
    [
      "transfer of a withdrawal",
      {
        type: "transfer",
        reportingCategory: "transfer",
        sourceId: "tr_1",
        amountMinor: -975,
        feeMinor: 0,
        netMinor: -975,
        withdrawalId: "wd_1",
      },
      ["wd_1:transferred"],
      [],
    ],
    [
      "reversal of a withdrawal",
      {
        type: "transfer_refund",
        reportingCategory: "transfer_reversal",
        sourceId: "trr_1",
        amountMinor: 975,
        feeMinor: 0,
        netMinor: 975,
        withdrawalId: "wd_1",
      },
      ["wd_1:returned"],
      [],
    ],
    [
      "platform payout",
      {
        type: "payout",
        reportingCategory: "payout",
        sourceId: "po_1",
        amountMinor: -700,
        feeMinor: 0,
        netMinor: -700,
      },
      ["po_1:paid_out"],
      ["po_1:paid_out"],
    ],
    [
      "platform payout failed",
      {
        type: "payout_failure",
        reportingCategory: "payout_reversal",
        sourceId: "po_1",
        amountMinor: 700,
        feeMinor: 0,
        netMinor: 700,
      },
      ["po_1:returned"],
      ["po_1:returned"],
    ],
  ];
  it.each(cases)("%s", (_name, over, claims, bookings) => {
    const l = line(over);
    const rule = lineRule(l);
    expect(rule.unexplained).toBeNull();
    expect([...rule.claims].sort()).toEqual([...claims].sort());
    expect(rule.bookings.map((b) => b.key).sort()).toEqual([...bookings].sort());
    for (const b of rule.bookings) expect(rule.claims).toContain(b.key);
    // Bookings that stand for the whole line (payouts) move exactly −net on `stripe`.
    if (l.type.startsWith("payout")) expect(stripeDelta(l)).toBe(-l.netMinor);
  });

  const unexplained: Array<[string, Partial<BalanceTxn>]> = [
    [
      "Stripe's own adjustment",
      { type: "adjustment", reportingCategory: "other_adjustment", sourceId: null, feeMinor: 0 },
    ],
    ["a monthly fee", { type: "stripe_fee", reportingCategory: "fee", sourceId: null, feeMinor: 0 }],
    [
      "a transfer Coffer did not make",
      { type: "transfer", reportingCategory: "transfer", sourceId: "tr_9", feeMinor: 0 },
    ],
    ["a charge without a PaymentIntent", { paymentIntentId: null }],
    ["a charge on a PaymentIntent Coffer did not create", { paymentIsTopUp: false }],
    [
      "a dispute on such a payment",
      { type: "adjustment", reportingCategory: "dispute", sourceId: "dp_9", paymentIsTopUp: false },
    ],
    [
      "a refund of a subscription invoice's charge (not booked yet)",
      {
        type: "refund",
        reportingCategory: "refund",
        sourceId: "re_9",
        paymentIsTopUp: false,
        invoiceId: "in_1",
      },
    ],
    [
      "a dispute of a subscription invoice's charge (not booked yet)",
      {
        type: "adjustment",
        reportingCategory: "dispute",
        sourceId: "dp_9",
        paymentIsTopUp: false,
        invoiceId: "in_1",
      },
    ],
    [
      "a subscription charge Stripe converted",
      { paymentIsTopUp: false, invoiceId: "in_1", exchangeRate: 1.08 },
    ],
    [
      "a payout from before Coffer's books began",
      {
        type: "payout",
        reportingCategory: "payout",
        sourceId: "po_0",
        amountMinor: -5,
        feeMinor: 0,
        beforeBooks: true,
      },
    ],
  ];
  it.each(unexplained)("%s is unexplained, claims nothing and books nothing", (_name, over) => {
    const rule = lineRule(line(over));
    expect(rule.unexplained).toMatch(/./);
    expect(rule.claims).toEqual([]);
    expect(rule.bookings).toEqual([]);
  });

  it("books a fee Stripe returns (negative) back into stripe_fees", () => {
    const won = line({
      type: "adjustment",
      reportingCategory: "dispute_reversal",
      sourceId: "dp_1",
      feeMinor: -1_500,
    });
    const [fee] = lineRule(won).bookings;
    expect(fee?.key).toBe("txn_1:fee");
    expect(toEntries(fee!).find((e) => e.amountMinor > 0)?.account).toEqual({
      type: "platform",
      name: "stripe_fees",
    });
  });

  it("groups a refund with its failure, and every other line alone", () => {
    const refund = lineRule(line({ id: "txn_a", type: "refund", sourceId: "re_1" }));
    const failure = lineRule(line({ id: "txn_b", type: "refund_failure", sourceId: "re_1" }));
    expect(refund.group).toBe(failure.group);
    expect(lineRule(line({ id: "txn_c" })).group).toBe("txn_c");
  });
});
