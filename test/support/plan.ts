/** A node of `EXPLAIN (ANALYZE, FORMAT JSON)`'s plan, as far as the tests read it. */
export type PlanNode = {
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
};

/** Rows each table's scans produced or threw away, over every loop. */
export function rowsRead(node: PlanNode, into = new Map<string, number>()): Map<string, number> {
  if (node["Relation Name"]) {
    const n = (node["Actual Rows"] + (node["Rows Removed by Filter"] ?? 0)) * node["Actual Loops"];
    into.set(node["Relation Name"], (into.get(node["Relation Name"]) ?? 0) + n);
  }
  for (const p of node.Plans ?? []) rowsRead(p, into);
  return into;
}
