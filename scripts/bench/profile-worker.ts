import { mkdirSync, readdirSync } from "node:fs";
import os from "node:os";
import { loadConfig } from "../../src/config.js";
import { createDb } from "../../src/db/knex.js";
import { httpOk, spawnChild, waitFor, type Child } from "./children.js";
import { deliverCredits, seedCredits, type Seeded } from "./credits.js";
import { summariseFile, WORKER_AREAS } from "./cpu-profile.js";
import { Cleanup, createBenchEnv, freePort } from "./env.js";
import { benchQueues } from "./queues.js";

/**
 * `tsx scripts/bench/profile-worker.ts [events] [wallets] [--against DIR] [--rounds N] [--rate R]`
 *
 * Without --against: one worker under `node --cpu-prof` credits `events` top-ups (default 3000)
 * over `wallets` wallets (default 100) after an untimed warm-up, and this prints where its CPU
 * went inside the timed batch only, by library and by function (the .cpuprofile stays in /tmp).
 * --rate R delivers the timed batch as an open loop at R events/s instead of as fast as it goes.
 *
 * With --against DIR (another checkout, e.g. `git archive <commit> | tar -x -C DIR` with
 * node_modules linked): no profiler; the worker of DIR and this checkout's take turns on
 * batches of the same size, N rounds (default 3), and it prints each one's CPU per credited
 * event and their ratio. Turns share the machine's load, so the ratio holds when the absolute
 * figures do not (the machine is shared).
 */
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args.splice(i, 2)[1];
};
const against = flag("--against");
const rounds = Number(flag("--rounds") ?? 3);
const rate = flag("--rate");
const events = Number(args[0] ?? 3000);
const wallets = Number(args[1] ?? 100);
const log = (m: string) => process.stderr.write(`[profile] ${m}\n`);
const cleanup = new Cleanup();

try {
  const env = await createBenchEnv(cleanup, {});
  const config = loadConfig(env.cofferEnv);
  const db = createDb(env.databaseUrl, { poolMax: 4 });
  cleanup.add("db", () => db.destroy());
  const queues = benchQueues(env.redisUrl, env.cofferPrefix, env.baselinePrefix);
  cleanup.add("queues", () => queues.close());
  const start = (
    name: string,
    entry: string,
    extra: Record<string, string>,
    nodeArgs: string[] = [],
    cwd?: string,
  ) => {
    const c: Child = spawnChild(name, entry, { ...env.cofferEnv, ...extra }, nodeArgs, cwd);
    cleanup.add(name, () => c.stop());
    return c;
  };
  const port = await freePort();
  const webUrl = `http://127.0.0.1:${port}`;
  const web = start("web", "src/web.ts", { PORT: String(port) });
  await waitFor(web, "web", () => httpOk(`${webUrl}/readyz`));
  const seed = (label: string, n: number) =>
    seedCredits({ db, config, standin: env.standin, label, events: n, wallets });
  const common = {
    db,
    webUrl,
    web,
    secret: env.webhookSecret,
    standin: env.standin,
    connections: 50,
    timeoutS: 600,
  };
  const startWorker = async (name: string, nodeArgs: string[] = [], cwd?: string) => {
    const w = start(name, "jobs/worker.ts", { WORKER_QUEUES: "payments" }, nodeArgs, cwd);
    await waitFor(w, name, async () => (await queues.paymentsWorkers()) > 0);
    return w;
  };

  if (against) {
    log(`seeding ${rounds} x 2 x ${events} top-ups over ${wallets} wallets (+300 warm-up each)`);
    const warm = { a: await seed("warm_a", 300), b: await seed("warm_b", 300) };
    const batches: Array<{ a: Seeded; b: Seeded }> = [];
    for (let r = 0; r < rounds; r++)
      batches.push({ a: await seed(`a${r}`, events), b: await seed(`b${r}`, events) });
    const cpu = { a: [] as number[], b: [] as number[] };
    for (const side of ["a", "b"] as const) {
      // Warm each once so neither pays for a cold JIT in a timed turn.
      const w = await startWorker(`worker-${side}`, [], side === "a" ? against : undefined);
      await deliverCredits({ ...common, workers: [w], seeded: warm[side] });
      await w.stop(20_000);
    }
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so drift in the machine's load falls on both alike.
      for (const side of r % 2 === 0 ? (["a", "b"] as const) : (["b", "a"] as const)) {
        const w = await startWorker(`worker-${side}${r}`, [], side === "a" ? against : undefined);
        const run = await deliverCredits({ ...common, workers: [w], seeded: batches[r]![side] });
        await w.stop(20_000);
        cpu[side].push(run.workerCpuMsPerEvent);
        log(
          `round ${r + 1} ${side === "a" ? "against" : "this   "}: ${run.workerCpuMsPerEvent.toFixed(2)} ms CPU/event, ` +
            `${run.eventsPerS.toFixed(0)} events/s, exact ${run.exact}, invariants ${run.invariantsOk}, load ${os.loadavg()[0]!.toFixed(1)}`,
        );
      }
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const ratios = cpu.b.map((b, i) => b / cpu.a[i]!);
    console.log(
      `worker CPU per credited event, ${wallets} wallets: against ${mean(cpu.a).toFixed(2)} ms, this ${mean(cpu.b).toFixed(2)} ms, ` +
        `ratio ${mean(ratios).toFixed(2)} (per round ${ratios.map((x) => x.toFixed(2)).join(", ")})`,
    );
  } else {
    log(`seeding ${events} + 300 top-ups over ${wallets} wallets`);
    const warm = await seed("warm", 300);
    const seeded = await seed("timed", events);
    const dir = `/tmp/coffer-prof-${env.dbName}`;
    mkdirSync(dir, { recursive: true });
    const worker = await startWorker("worker", [
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      "--cpu-prof-interval=250",
    ]);
    await deliverCredits({ ...common, workers: [worker], seeded: warm });
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const run = await deliverCredits({
      ...common,
      workers: [worker],
      seeded,
      ...(rate && { rps: Number(rate) }),
    });
    const toUs = Number(process.hrtime.bigint() / 1000n);
    log(
      `${run.events} events, ${run.eventsPerS.toFixed(0)}/s, worker ${run.workerCpuMsPerEvent.toFixed(2)} ms CPU/event, ` +
        `exact ${run.exact}, invariants ${run.invariantsOk}, failed ${run.failed}, load ${os.loadavg()[0]!.toFixed(1)}`,
    );
    await worker.stop(20_000);
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no profile in ${dir}`);
    const s = summariseFile(`${dir}/${file}`, WORKER_AREAS, [fromUs, toUs]);
    const busy = s.byArea.filter((a) => !a.area.startsWith("idle")).reduce((n, a) => n + a.ms, 0);
    const row = (label: string, ms: number) =>
      `${label.padEnd(70)} ${(ms / run.events).toFixed(3).padStart(7)} ms/ev ${((100 * ms) / busy).toFixed(1).padStart(5)} %`;
    console.log(
      `profile ${dir}/${file}: ${busy.toFixed(0)} ms busy in the timed batch (shares of busy time)`,
    );
    console.log("\nby area (leaf first)");
    for (const a of s.byArea) console.log(row(a.area, a.ms));
    console.log("\nself time");
    for (const f of s.topSelf) console.log(row(f.fn, f.ms));
    console.log("\ninclusive, Coffer's functions");
    for (const f of s.topInclusive) console.log(row(f.fn, f.ms));
  }
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup.run(log);
  process.exit();
}
