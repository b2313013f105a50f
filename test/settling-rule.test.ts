import { describe, expect, it } from "vitest";
import { settlesAt, settlingAt, withdrawableAt } from "../src/ledger/settling.js";

/** The pure rule behind settling_minor (src/ledger/settling.ts). */
const NOW = 1_800_000_000;

describe("settlingAt", () => {
  it("counts credits whose available_on is ahead or unknown, and none once it has passed", () => {
    const credits = [
      { remainingMinor: 500, availableOn: NOW + 10 },
      { remainingMinor: 200, availableOn: null },
      { remainingMinor: 300, availableOn: NOW },
    ];
    expect(settlingAt(2_000, credits, NOW)).toBe(700);
    expect(settlingAt(2_000, credits, NOW + 10)).toBe(200);
  });

  it("never exceeds what is available, and is 0 when available is negative", () => {
    const credits = [{ remainingMinor: 500, availableOn: NOW + 10 }];
    expect(settlingAt(300, credits, NOW)).toBe(300);
    expect(settlingAt(-100, credits, NOW)).toBe(0);
    expect(withdrawableAt(300, credits, NOW)).toBe(0);
  });
});

describe("settlesAt", () => {
  const credits = [
    { remainingMinor: 500, availableOn: NOW + 100 },
    { remainingMinor: 400, availableOn: NOW + 50 },
    { remainingMinor: 100, availableOn: null },
  ];
  // available 1,500: 500 settled now, 900 at NOW + 50, 1,400 at NOW + 100, 1,500 never known.
  it.each([
    [500, NOW],
    [501, NOW + 50],
    [900, NOW + 50],
    [901, NOW + 100],
    [1_400, NOW + 100],
    [1_401, null],
    [1_501, null],
  ])("%i is withdrawable at %s", (amount, at) => {
    expect(settlesAt(1_500, credits, amount, NOW)).toBe(at);
  });
});
