/**
 * `npm run soak -- --seed N`: Coffer's chaos soak (README → Chaos soak). It runs the whole
 * system in processes, drives a seeded workload through the public API and signed webhooks
 * while a seeded schedule of faults hits it, then audits every invariant against its own model.
 * The seed is printed first; the same seed replays the same workload, deliveries and faults.
 * Exit 0: every check passed. Exit 1: a check failed (the run directory is kept). Exit 2: bad
 * arguments. Exit 3: the soak itself could not run (the run directory is kept).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiClient } from "./soak/api.js";
import { parseArgs, replayCommand, UsageError, type SoakArgs } from "./soak/args.js";
import { audit, converge } from "./soak/converge.js";
import { Deliverer } from "./soak/delivery.js";
import { harnessFor } from "./soak/harness.js";
import { faultSchedule, runFaults, type FaultLogEntry } from "./soak/faults.js";
import { Model } from "./soak/model.js";
import { sleep } from "./soak/random.js";
import { finalTable, progressLine, stamp } from "./soak/report.js";
import { describeFailure, runWorkload } from "./soak/run-workload.js";
import type { StoryContext } from "./soak/story-context.js";
import {
  CONNECT_WEBHOOK_SECRET,
  FEES,
  JWT_SECRET,
  startSoakSystem,
  stopSoakSystem,
  WEBHOOK_SECRET,
} from "./soak/system.js";
import { planWorkload } from "./soak/workload.js";

let args: SoakArgs;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
const t0 = Date.now();
const say = (line: string) => process.stdout.write(`[soak ${stamp(t0)}] ${line}\n`);
process.stdout.write(`soak: seed ${args.seed}  (replay: ${replayCommand(args)})\n`);

const windowMs = Math.round(args.minutes * 60_000);
const plan = planWorkload(args.seed, args.events, windowMs);
const schedule = faultSchedule(args.seed, windowMs, args.workers);
say(
  `plan: ${plan.scenarios.length} stories for ${plan.users} users (~${plan.estimatedEvents} events), ` +
    `${schedule.faults.length} one-off faults and a worker kill every 10–30 s over ${args.minutes} min, ` +
    `${args.workers} workers`,
);

const sys = await startSoakSystem({ seed: args.seed, workers: args.workers, baseDir: args.dir }).catch(
  (err: unknown) => {
    process.stderr.write(`soak: could not start the system: ${(err as Error).stack}\n`);
    process.exit(3);
  },
);
// Ctrl-C: stop what the soak started (Postgres runs detached as its own user) and keep the evidence.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stdout.write(`\nsoak: ${signal}; stopping, keeping ${sys.dir}\n`);
    void stopSoakSystem(sys, false).finally(() => process.exit(130));
  });
}
say(`system up in ${sys.dir} (web ${sys.webUrl}, Postgres :${sys.postgres.port}, Redis :${sys.redis.port})`);

const model = new Model(FEES);
const api = apiClient(() => sys.webUrl, JWT_SECRET);
const harness = harnessFor(sys.standin);
const anomalies: string[] = [];
const ctx: StoryContext = {
  api,
  harness,
  model,
  db: sys.db,
  seed: args.seed,
  anomaly: (s, what) => anomalies.push(`story #${s.index} ${s.kind}: ${what}`),
};
const deliverer = new Deliverer(sys.standin, {
  webhookUrl: `${sys.webUrl}/webhooks/stripe`,
  secret: WEBHOOK_SECRET,
  connectSecret: CONNECT_WEBHOOK_SECRET,
  seed: args.seed,
  maxDelayMs: 2_000,
  duplicateShare: 0.25,
  concurrentShareOfDuplicates: 0.5,
});
const faultLog: FaultLogEntry[] = [];
const started = Date.now();
let phase = "storm";
deliverer.start();
const workload = runWorkload(ctx, plan, started);
const progress = setInterval(
  () =>
    say(
      progressLine({
        phase,
        eventsCreated: deliverer.stats.events,
        eventsTarget: plan.estimatedEvents,
        delivery: deliverer.stats,
        pendingCopies: deliverer.pending,
        storiesDone: workload.done,
        storiesStarted: workload.started,
        storiesTotal: plan.scenarios.length,
        storiesFailed: workload.failed.length,
        faults: faultLog,
        stripe: sys.stripeFaults.counts,
      }),
    ),
  5_000,
);

// A reconciliation run in the middle of the storm: it must cope (heal, wait, retry), not match.
let midRun = "not started";
void sleep(windowMs / 2).then(async () => {
  const r = await api
    .call("POST", "/admin/reconciliation/runs", { admin: true, body: {} })
    .catch((e: Error) => ({ status: 0, body: e.message }));
  midRun = r.status === 202 ? String(r.body.id) : `refused ${r.status}`;
  say(`reconciliation run during the storm: ${midRun}`);
});

let exitCode: number;
try {
  await runFaults(
    schedule,
    { processes: sys.processes, redis: sys.redis, postgres: sys.postgres, stripe: sys.stripeFaults },
    { startedAt: started, windowMs, stillStarting: () => workload.started < workload.total },
    faultLog,
    say,
  );
  await sleep(Math.max(0, started + windowMs - Date.now()));
  sys.stripeFaults.on = false;
  if (workload.started < workload.total) say(`${workload.total - workload.started} stories still to start`);
  phase = "converge";
  say("faults stopped; waiting for Coffer to converge");
  const converged = await converge(
    { sys, api, model, deliverer, workload, boundMs: args.convergeS * 1000 },
    say,
  );
  phase = "audit";
  const checks = await audit({
    sys,
    api,
    model,
    deliverer,
    workload,
    harness,
    anomalies,
    midRun,
    soakStartedAt: new Date(t0),
    converged,
    boundMs: args.convergeS * 1000,
  });
  clearInterval(progress);
  const table = finalTable({
    seed: args.seed,
    command: replayCommand(args),
    events: deliverer.stats.events,
    stories: plan.scenarios.length,
    users: plan.users,
    delivery: deliverer.stats,
    stripe: sys.stripeFaults.counts,
    stripeRateLimited: (await sys.standin.stats()).rateLimited,
    faults: faultLog,
    convergeMs: converged,
    convergeBoundMs: args.convergeS * 1000,
    totalMs: Date.now() - t0,
    checks,
  });
  process.stdout.write(`${table}\n`);
  writeFileSync(
    join(sys.dir, "report.txt"),
    `${table}\n\n${workload.failed.map(describeFailure).join("\n")}\n`,
  );
  writeFileSync(
    join(sys.dir, "model.json"),
    JSON.stringify({ wallets: model.wallets(), withdrawals: [...model.withdrawals.values()] }, null, 2),
  );
  exitCode = checks.every((c) => c.ok) ? 0 : 1;
} catch (err) {
  clearInterval(progress);
  process.stderr.write(`soak: the run broke off: ${(err as Error).stack}\n`);
  exitCode = 3;
}
deliverer.stop();
const keep = exitCode !== 0 || args.keep;
await stopSoakSystem(sys, !keep);
if (exitCode === 0) {
  process.stdout.write(`\nsoak PASSED (seed ${args.seed})${keep ? `; kept ${sys.dir}` : ""}\n`);
} else {
  process.stdout.write(
    `\nsoak FAILED (seed ${args.seed}). Replay: ${replayCommand(args)}\n` +
      `kept ${sys.dir}: logs (web.log, worker-*.log, postgres.log, redis.log), report.txt, model.json, the database:\n` +
      `    ${sys.postgres.howToStart()}\n`,
  );
}
process.exit(exitCode);
