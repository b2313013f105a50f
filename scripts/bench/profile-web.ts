import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import os from "node:os";
import pg from "pg";
import { spawnChild, httpOk, printed, waitFor, type Child } from "./children.js";
import { summariseFile } from "./cpu-profile.js";
import { Cleanup, createBenchEnv, freePort, inheritedEnv } from "./env.js";
import { runTimed, type LoadResult } from "./load.js";
import { PayloadPool } from "./payloads.js";
import { benchQueues } from "./queues.js";

/**
 * `tsx scripts/bench/profile-web.ts [--rounds N] [--seconds S] [--against DIR] [--prof]`
 *
 * Ingestion only (issue 9, item 3): POST /webhooks/stripe on Coffer's web beside the bare path
 * (scripts/bench/bare-server.ts), closed loop at 10 and 50 connections, N rounds (default 3) of
 * S seconds (default 5) per cell, the servers' order rotating each round. It prints each round's
 * ratios to the bare path (req/s, p99, server CPU per request) and their medians: on a shared
 * machine only ratios measured side by side hold.
 *
 * --against DIR: a second Coffer web from another checkout (`git archive <commit> | tar -x -C DIR`,
 * node_modules linked), on a database migrated by DIR's own migrations, measured in the same
 * rounds: an A/B of a change to the ingestion path. --prof: this checkout's web and the bare
 * path run under `node --cpu-prof`, and each profile is summarised over that server's timed cells
 * (ratios are then skewed by the profiler; take them from a run without it).
 */
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args.splice(i, 2)[1];
};
const prof = args.includes("--prof");
const against = flag("--against");
const rounds = Number(flag("--rounds") ?? 3);
const cellMs = Number(flag("--seconds") ?? 5) * 1000;
const log = (m: string) => process.stderr.write(`[web] ${m}\n`);
const cleanup = new Cleanup();

/** The web's hot path by library; the first rule that matches a frame, leaf first, names a sample. */
const WEB_AREAS: Array<[RegExp, string]> = [
  [/\/node_modules\/bullmq\//, "bullmq"],
  [/\/node_modules\/(ioredis|redis-parser|cluster-key-slot|denque|msgpackr)\//, "ioredis"],
  [/\/node_modules\/knex\//, "knex"],
  [/\/node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-[a-z]+)\//, "pg driver"],
  [/\/node_modules\/(pino|sonic-boom|fast-redact|pino-std-serializers|thread-stream)\//, "pino"],
  [/\/node_modules\/prom-client\//, "prom-client"],
  [/\/node_modules\/zod\//, "zod"],
  [/\/node_modules\/stripe\//, "stripe SDK (signature)"],
  [/\/node_modules\/(koa|@koa|koa-compose|http-errors|statuses|accepts|type-is|content-type)/, "koa"],
  [/\/node_modules\/rate-limiter-flexible\//, "rate-limiter-flexible"],
  [/\/node_modules\//, "other libraries"],
  [/\/src\/(db|stripe|flows|queue)\//, "coffer: verify, ingest, stores"],
  [/\/src\/http\//, "coffer: http middleware and routes"],
  [/\/src\//, "coffer: other"],
];

type Server = "bare" | "coffer" | "against";
interface Run extends LoadResult {
  server: Server;
  round: number;
}

try {
  const env = await createBenchEnv(cleanup, {});
  const dbUrls = { coffer: env.databaseUrl, against: env.databaseUrl, bare: env.databaseUrl };
  if (against) dbUrls.against = await againstDatabase(env.adminUrl, `${env.dbName}_ab`, against);
  const queues = benchQueues(env.redisUrl, env.cofferPrefix, env.baselinePrefix);
  cleanup.add("queues", () => queues.close());
  const start = (
    name: string,
    entry: string,
    e: Record<string, string>,
    nodeArgs: string[],
    cwd?: string,
  ) => {
    const c: Child = spawnChild(name, entry, e, nodeArgs, cwd);
    cleanup.add(name, () => c.stop(20_000));
    return c;
  };
  const profDir = (server: Server) => `/tmp/coffer-webprof-${env.dbName}-${server}`;
  const profArgs = (server: Server) => {
    if (!prof) return [];
    mkdirSync(profDir(server), { recursive: true });
    return ["--cpu-prof", `--cpu-prof-dir=${profDir(server)}`, "--cpu-prof-interval=250"];
  };
  const servers = new Map<Server, { url: string; child: Child }>();
  const port = async () => freePort();
  const webPort = await port();
  servers.set("coffer", {
    url: `http://127.0.0.1:${webPort}`,
    child: start("web", "src/web.ts", { ...env.cofferEnv, PORT: String(webPort) }, profArgs("coffer")),
  });
  if (against) {
    const p = await port();
    const e = { ...env.cofferEnv, PORT: String(p), DATABASE_URL: dbUrls.against };
    servers.set("against", {
      url: `http://127.0.0.1:${p}`,
      child: start("web-against", "src/web.ts", e, [], against),
    });
  }
  const bp = await port();
  servers.set("bare", {
    url: `http://127.0.0.1:${bp}`,
    child: start(
      "bare",
      "scripts/bench/bare-server.ts",
      {
        ...inheritedEnv(),
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: env.redisUrl,
        PORT: String(bp),
        STRIPE_WEBHOOK_SECRET: env.webhookSecret,
        QUEUE_PREFIX: env.baselinePrefix,
      },
      profArgs("bare"),
    ),
  });
  for (const [name, s] of servers)
    await waitFor(
      s.child,
      name,
      name === "bare" ? printed(s.child, /bare ready/) : () => httpOk(`${s.url}/readyz`),
    );

  const pools = Object.fromEntries(
    Object.entries(dbUrls).map(([k, url]) => [k, new pg.Pool({ connectionString: url, max: 1 })]),
  ) as Record<Server, pg.Pool>;
  cleanup.add("pools", async () => void (await Promise.all(Object.values(pools).map((p) => p.end()))));
  const reset = async (server: Server) => {
    await queues.obliterateAll();
    // The against web enqueues under the same prefix; its table is in its own database.
    await pools[server].query(
      server === "bare" ? "TRUNCATE bench_bare_events" : "TRUNCATE stripe_webhook_events",
    );
  };
  const pool = new PayloadPool(env.webhookSecret);
  const windows: Record<Server, Array<[number, number]>> = { coffer: [], bare: [], against: [] };
  const one = async (server: Server, connections: number, measureMs: number, round: number): Promise<Run> => {
    await reset(server);
    pool.fill(Math.ceil(4_000 * (measureMs / 1000 + 1) * 1.4));
    const s = servers.get(server)!;
    const fromUs = Number(process.hrtime.bigint() / 1000n) + 1_000_000;
    const r = await runTimed({
      url: `${s.url}/webhooks/stripe`,
      connections,
      warmupMs: 1_000,
      measureMs,
      next: () => pool.take(),
      serverCpuMs: () => s.child.cpuMs(),
    });
    if (round >= 0) windows[server].push([fromUs, fromUs + measureMs * 1000]);
    log(
      `  round ${round + 1} ${server.padEnd(7)} c=${connections}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ` +
        `${(r.serverCpuMsPerReq * 1000).toFixed(0)} µs CPU/req, errors ${r.errors}, load ${os.loadavg()[0]!.toFixed(1)}`,
    );
    return { ...r, server, round };
  };
  const names = [...servers.keys()];
  for (const server of names) await one(server, 50, 3_000, -1); // untimed: JIT and pools
  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++)
    for (const connections of [10, 50])
      for (let k = 0; k < names.length; k++)
        runs.push(await one(names[(k + round) % names.length]!, connections, cellMs, round));

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const out = (t = "") => process.stdout.write(`${t}\n`);
  out(
    `\ningestion, ${rounds} rounds of ${cellMs / 1000} s per cell, ratios to the bare path in the same round`,
  );
  for (const server of names.filter((n) => n !== "bare"))
    for (const c of [10, 50]) {
      const ratio = (m: (r: Run) => number) =>
        Array.from({ length: rounds }, (_, round) => {
          const pick = (s: Server) =>
            runs.find((r) => r.server === s && r.connections === c && r.round === round)!;
          return m(pick(server)) / m(pick("bare"));
        });
      const fmt = (xs: number[]) =>
        `median ${median(xs).toFixed(2)} (${xs.map((x) => x.toFixed(2)).join(", ")})`;
      out(`${server.padEnd(7)} c=${c}: req/s ${fmt(ratio((r) => r.rps))}`);
      out(`${"".padEnd(7)}       p99   ${fmt(ratio((r) => r.p99Ms))}`);
      out(`${"".padEnd(7)}       CPU/req ${fmt(ratio((r) => r.serverCpuMsPerReq))}`);
    }
  out(`peak RSS MB: ${names.map((n) => `${n} ${servers.get(n)!.child.peakRssMb().toFixed(0)}`).join(", ")}`);

  if (prof)
    for (const server of ["bare", "coffer"] as const) {
      await servers.get(server)!.child.stop(20_000);
      const dir = profDir(server);
      const file = readdirSync(dir).find((f) => f.endsWith(".0.001.cpuprofile")); // the main thread's
      if (!file) throw new Error(`no profile in ${dir}`);
      const requests = runs.filter((r) => r.server === server).reduce((n, r) => n + r.ok + r.errors, 0);
      const summaries = windows[server].map((w) => summariseFile(`${dir}/${file}`, WEB_AREAS, w));
      const merge = (pick: (s: (typeof summaries)[number]) => Array<{ k: string; ms: number }>) => {
        const m = new Map<string, number>();
        for (const s of summaries) for (const { k, ms } of pick(s)) m.set(k, (m.get(k) ?? 0) + ms);
        return [...m.entries()].sort((a, b) => b[1] - a[1]);
      };
      const areas = merge((s) => s.byArea.map((a) => ({ k: a.area, ms: a.ms })));
      const busy = areas.filter(([k]) => !k.startsWith("idle")).reduce((n, [, ms]) => n + ms, 0);
      const row = ([label, ms]: [string, number]) =>
        `${label.padEnd(80)} ${((1000 * ms) / requests).toFixed(1).padStart(6)} µs/req ${((100 * ms) / busy).toFixed(1).padStart(5)} %`;
      out(
        `\n${server}: profile ${dir}/${file}: ${busy.toFixed(0)} ms busy, ${((1000 * busy) / requests).toFixed(0)} µs/req over ${requests} requests in the timed cells`,
      );
      out("\nby area (leaf first)");
      for (const a of areas) out(row(a));
      out("\nself time");
      for (const f of merge((s) => s.topSelf.map((x) => ({ k: x.fn, ms: x.ms }))).slice(0, 30)) out(row(f));
      if (server === "bare") continue;
      out("\ninclusive, Coffer's functions");
      for (const f of merge((s) => s.topInclusive.map((x) => ({ k: x.fn, ms: x.ms }))).slice(0, 30))
        out(row(f));
    }
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup.run(log);
  process.exit();
}

/** A database migrated by the other checkout's own migrations (its schema, not this one's). */
async function againstDatabase(adminUrl: string, name: string, dir: string): Promise<string> {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  cleanup.add("drop against database", async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => c.end());
  });
  const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/migrate.ts"], {
    cwd: dir,
    env: { ...inheritedEnv(), DATABASE_URL: url.toString(), DATABASE_OWNER_URL: url.toString() },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`migrating ${name} from ${dir} failed:\n${r.stderr}`);
  return url.toString();
}
