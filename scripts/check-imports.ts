import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * `npm run lint` runs this: the import graph of src/, jobs/ and scripts/ must
 * have no cycles, and the direction STYLE.md sets must hold — nothing imports
 * jobs/ or test/, and src/ledger (the pure core) imports no other layer.
 * (madge would do the cycle part, but it pins TypeScript 5 as a peer.)
 */
const root = resolve(new URL("..", import.meta.url).pathname);
const roots = ["src", "jobs", "scripts"].map((d) => join(root, d));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const graph = new Map<string, string[]>();
for (const file of roots.flatMap(files)) {
  const source = readFileSync(file, "utf8");
  // Type-only imports vanish at runtime and cannot form a load-order cycle.
  const specs = [...source.matchAll(/^import\s+(?!type\s)[^'"]*?from\s+["'](\.[^"']+)["']/gm)].map(
    (m) => m[1]!,
  );
  graph.set(
    file,
    specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, ".ts"))),
  );
}

const problems: string[] = [];
const rel = (p: string) => relative(root, p);
for (const [file, deps] of graph) {
  for (const dep of deps) {
    if (rel(dep).startsWith("test/")) problems.push(`${rel(file)} imports test code (${rel(dep)})`);
    if (rel(dep).startsWith("jobs/") && !rel(file).startsWith("jobs/"))
      problems.push(`${rel(file)} imports jobs/ (${rel(dep)})`);
    if (
      rel(file).startsWith("src/ledger/") &&
      !rel(dep).startsWith("src/ledger/") &&
      !rel(dep).startsWith("src/money/")
    ) {
      problems.push(`${rel(file)}: the ledger core may import only itself and src/money (got ${rel(dep)})`);
    }
  }
}

const state = new Map<string, "visiting" | "done">();
function visit(file: string, path: string[]): void {
  if (state.get(file) === "done") return;
  if (state.get(file) === "visiting") {
    problems.push(`import cycle: ${[...path.slice(path.indexOf(file)), file].map(rel).join(" → ")}`);
    return;
  }
  state.set(file, "visiting");
  for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
  state.set(file, "done");
}
for (const file of graph.keys()) visit(file, []);

if (problems.length > 0) {
  process.stderr.write(`${problems.join("\n")}\n`);
  process.exit(1);
}
process.stdout.write(`imports ok: ${graph.size} files, no cycles\n`);
