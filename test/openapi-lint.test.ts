import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveWithoutDatabase } from "./support/openapi-app.js";

/**
 * `redocly lint` (Redocly's recommended rules, redocly.yaml) on the document the app serves, as
 * an operator runs it: 0 errors, and no warnings beyond the ones listed here with their reason.
 * The CLI runs offline: telemetry off, no update check (it would otherwise look up npm).
 */
const ROOT = new URL("../", import.meta.url).pathname;
const ACCEPTED_WARNINGS: string[] = [];

let web: Awaited<ReturnType<typeof serveWithoutDatabase>>;
let dir: string;
beforeAll(async () => {
  web = await serveWithoutDatabase("openapi-lint-test");
  dir = await mkdtemp(join(tmpdir(), "coffer-openapi-"));
});
afterAll(async () => {
  await web?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Report {
  totals: { errors: number; warnings: number };
  problems: Array<{
    ruleId: string;
    severity: string;
    message: string;
    location: Array<{ pointer: string }>;
  }>;
}

describe("redocly lint /openapi.json", () => {
  it("reports no errors and no unexplained warnings", async () => {
    const res = await fetch(`${web.url}/openapi.json`);
    expect(res.status).toBe(200);
    const file = join(dir, "openapi.json");
    await writeFile(file, JSON.stringify(await res.json(), null, 2));
    const run = await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, "node_modules/@redocly/cli/bin/cli.js"),
        "lint",
        file,
        "--config",
        join(ROOT, "redocly.yaml"),
        "--format=json",
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_ENV: "test",
          REDOCLY_TELEMETRY: "off",
          REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
        },
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch((err: { stdout?: string; code?: number }) => ({ stdout: err.stdout ?? "", code: err.code }));
    const report = JSON.parse(run.stdout) as Report;
    const doc = JSON.parse(await readFile(file, "utf8")) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    // A browser's page that only ever redirects (Connect's refresh_url, Bull Board's login and
    // logout) has a 3xx as its answer, not a 2xx.
    const redirectOnly = (pointer: string) => {
      const [, path, method] = /^#\/paths\/([^/]+)\/(\w+)\/responses$/.exec(pointer) ?? [];
      const op = path && doc.paths[path.replaceAll("~1", "/").replaceAll("~0", "~")]?.[method!];
      return Boolean(op && Object.keys(op.responses).some((s) => s.startsWith("3")));
    };
    report.problems = report.problems.filter(
      (p) => !(p.ruleId === "operation-2xx-response" && redirectOnly(p.location[0]?.pointer ?? "")),
    );
    const found = report.problems.map(
      (p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`,
    );
    expect(
      found.filter((p) => p.startsWith("error")),
      "errors",
    ).toEqual([]);
    expect(report.totals.errors).toBe(0);
    expect(
      found.filter((p) => !ACCEPTED_WARNINGS.some((a) => p.includes(a))),
      "warnings",
    ).toEqual([]);
  }, 60_000);
});
