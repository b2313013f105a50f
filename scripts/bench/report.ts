/**
 * Plain fixed-width tables: the bench is read in a terminal or a CI log, not a
 * browser. The first `textCols` columns are labels (left-aligned); the rest are
 * numbers, right-aligned so their digits line up.
 */
export function table(head: string[], rows: string[][], textCols = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < textCols ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "-");
export const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
export const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");
