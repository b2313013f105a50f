import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { eventually, startSystem, type System } from "./support/system.js";

/**
 * The metrics as Prometheus scrapes them from the real entry points: a web process
 * (src/web.ts) and a worker process (jobs/worker.ts), each on its own port. Each exports only
 * what it measures, every label set an alert watches is there at 0 from the start, routes are
 * labelled by template, and `promtool check metrics` (Debian's prometheus package) is clean.
 */
let sys: System;
let web: ChildProcess;
let webUrl: string;
let workerUrl: string;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
  const workerPort = await freePort();
  await sys.startWorker({ WORKER_METRICS_PORT: String(workerPort) });
  workerUrl = `http://127.0.0.1:${workerPort}`;
  const port = await freePort();
  webUrl = `http://127.0.0.1:${port}`;
  web = spawn(process.execPath, ["--import", "tsx", "src/web.ts"], {
    cwd: new URL("../", import.meta.url).pathname,
    env: { ...process.env, ...sys.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  web.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  web.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  web.once("exit", (code) => code !== 0 && console.error(`web exited ${code}: ${out.slice(-3000)}`));
  await eventually(async () => (await fetch(`${webUrl}/healthz`)).ok, {
    what: "web process up",
    timeoutMs: 60_000,
  });
}, 120_000);

afterAll(async () => {
  if (web && web.exitCode === null) {
    web.kill("SIGTERM");
    await new Promise((r) => web.once("exit", r));
  }
  await sys?.stop();
});

const scrape = async (url: string) => {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
};

/** Metric family names in an exposition, from its `# TYPE` lines. */
const families = (text: string) => [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);

const WEB_ONLY = [
  "coffer_webhooks_received_total",
  "coffer_webhooks_rejected_total",
  "coffer_webhooks_duplicate_total",
  "coffer_http_request_duration_seconds",
  "coffer_queue_depth",
  "coffer_reconciliation_difference_minor",
  "coffer_reconciliation_unmatched",
  "coffer_settling_minor",
  "coffer_settling_sample_age_seconds",
];
const WORKER_ONLY = [
  "coffer_event_lag_seconds",
  "coffer_job_duration_seconds",
  "coffer_job_failures_total",
  "coffer_posting_key_conflicts_total",
  "coffer_sweeper_enqueued_total",
  "coffer_group_commit_batch_jobs",
  "coffer_group_commit_fallbacks_total",
];

describe("metrics per process", () => {
  it("web and worker each export only their own", async () => {
    const [w, k] = [families(await scrape(webUrl)), families(await scrape(workerUrl))];
    for (const name of WEB_ONLY) {
      expect(w).toContain(name);
      expect(k).not.toContain(name);
    }
    for (const name of WORKER_ONLY) {
      expect(k).toContain(name);
      expect(w).not.toContain(name);
    }
    // Postings are booked by both (the web books the cut-over), and both have the process defaults.
    for (const name of ["coffer_postings_total", "coffer_process_cpu_seconds_total"]) {
      expect(w).toContain(name);
      expect(k).toContain(name);
    }
  });

  it("has every series an alert needs at 0 before anything happened", async () => {
    const w = await scrape(webUrl);
    for (const reason of [
      "missing_signature",
      "bad_signature",
      "stale_timestamp",
      "future_timestamp",
      "too_large",
      "livemode_mismatch",
      "rate_limited",
    ])
      expect(w).toContain(`coffer_webhooks_rejected_total{reason="${reason}"} 0\n`);
    for (const side of ["stripe", "ledger"])
      expect(w).toContain(`coffer_reconciliation_unmatched{side="${side}"} 0\n`);
    for (const name of ["unusable", "conflicting", "aborted", "duplicate", "unenqueued"])
      expect(w).toContain(`coffer_webhooks_${name}_total 0\n`);
    const k = await scrape(workerUrl);
    for (const queue of ["payments", "refunds", "disputes", "withdrawals", "reconciliation"])
      for (const kind of ["terminal", "transient"])
        expect(k).toContain(`coffer_job_failures_total{queue="${queue}",kind="${kind}"} 0\n`);
    expect(k).toContain("coffer_posting_key_conflicts_total 0\n");
    expect(k).toContain("coffer_group_commit_fallbacks_total 0\n");
  });

  it("labels requests by route template, Bull Board as one route, and nothing else by its path", async () => {
    await api(webUrl, "GET", "/v1/wallet"); // 401, still its route
    await api(webUrl, "GET", "/v1/wallet/top-ups/tu_does_not_exist", { user: "m1" });
    await api(webUrl, "GET", "/admin/queues/api/queues", { user: "ops", role: "admin" });
    await api(webUrl, "GET", "/admin/queues/static/js/nothing.js", { user: "ops", role: "admin" });
    await api(webUrl, "GET", "/no/such/route_xyz");
    await api(webUrl, "POST", "/webhooks/stripe", { rawBody: "{}" }); // no signature
    const w = await scrape(webUrl);
    const routes = new Set(
      [...w.matchAll(/coffer_http_request_duration_seconds_count\{[^}]*route="([^"]*)"/g)].map((m) => m[1]),
    );
    expect(routes).toEqual(
      new Set([
        "/v1/wallet",
        "/v1/wallet/top-ups/:id",
        "/admin/queues",
        "unmatched",
        "/webhooks/stripe",
        "/metrics",
        "/healthz",
      ]),
    );
    expect(w).toMatch(/route="\/v1\/wallet",status="401"/);
    expect(w).toContain('coffer_webhooks_rejected_total{reason="missing_signature"} 1\n');
  });

  it("passes promtool check metrics, web and worker", async () => {
    for (const url of [webUrl, workerUrl]) {
      const text = await scrape(url);
      const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      expect(lint.error, "promtool missing: apt-get install prometheus").toBeUndefined();
      expect({ url, status: lint.status, out: `${lint.stdout}${lint.stderr}` }).toEqual({
        url,
        status: 0,
        out: "",
      });
    }
  });
});
