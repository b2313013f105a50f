import { spawnSync } from "node:child_process";
import { loadConfigOrExit } from "../src/config.js";
import { migrateLatest } from "../src/db/migrate.js";
import { OFFLINE_STRIPE_API_BASE } from "../src/offline.js";
import { DUPLICATE_SIGNAL_MS, SHUTDOWN_DEADLINE_MS, watchParent } from "../src/shutdown.js";
import { startStandin } from "../src/standin/index.js";
import { Supervised } from "./supervisor.js";

/**
 * `npm start`: the whole system on one machine.
 * 1. Makes Postgres and Redis reachable (scripts/ensure-services.sh starts local ones if needed).
 * 2. Migrates (as DATABASE_OWNER_URL's role; web and worker then connect as DATABASE_URL's).
 * 3. Without STRIPE_SECRET_KEY, starts the in-repo Stripe stand-in and points Coffer at it; the
 *    stand-in signs and delivers webhooks to the web process, so a top-up completes offline.
 * 4. Runs one web and one worker process (scripts/supervisor.ts: restarted with a backoff if one
 *    dies) until SIGINT, SIGTERM or SIGHUP, which it forwards, then waits for both to drain.
 *
 * npm runs this as `exec node --import tsx scripts/start.ts`, so this process is npm's own child
 * and gets the signal npm forwards (`sh -c` without exec dies of it and leaves its child running).
 * If npm is killed outright, this process sees its parent go and stops the same way.
 */
const root = new URL("../", import.meta.url).pathname;
const config = loadConfigOrExit();
const log = (msg: string) => process.stdout.write(`[start] ${msg}\n`);
/** Longer than a child's own drain deadline, so a child normally ends by itself first. */
const CHILD_DEADLINE_MS = SHUTDOWN_DEADLINE_MS + 5_000;

const children: Supervised[] = [];
let closeStandin: (() => Promise<void>) | undefined;
let stoppingAt: number | null = null;

async function stop(code: number, signal: NodeJS.Signals = "SIGTERM"): Promise<never> {
  stoppingAt ??= Date.now();
  await Promise.all(children.map((c) => c.stop(signal, CHILD_DEADLINE_MS)));
  await closeStandin?.();
  log("stopped");
  process.exit(code);
}

function onSignal(signal: NodeJS.Signals): void {
  if (stoppingAt === null) {
    log(`${signal}: stopping web and worker (they finish what they are doing)`);
    void stop(0, signal);
  } else if (Date.now() - stoppingAt >= DUPLICATE_SIGNAL_MS) {
    // A repeat within the window is the same Ctrl-C echoed by npm (src/shutdown.ts); this is not.
    log(`${signal} again: killing web and worker now`);
    for (const c of children) c.signal("SIGKILL");
  }
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => onSignal(signal));
watchParent(() => {
  log("parent exited: stopping");
  if (stoppingAt === null) void stop(0);
});

const local = (u: string) => ["127.0.0.1", "localhost", "::1", "[::1]"].includes(new URL(u).hostname);
// A cluster is the operator's to run: only a single local Redis is started here.
if (local(config.DATABASE_URL) && local(config.REDIS_URL) && !config.REDIS_CLUSTER_NODES) {
  const r = spawnSync("bash", ["scripts/ensure-services.sh"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// As the owner; web and worker then connect as DATABASE_URL's role (coffer_app by default).
const applied = await migrateLatest(config.DATABASE_OWNER_URL, {
  appUrl: config.DATABASE_URL,
  warn: (line) => log(`warning: ${line}`),
});
log(applied.length ? `migrated: ${applied.join(", ")}` : "database is up to date");

const env: NodeJS.ProcessEnv = { ...process.env };
if (config.stripeOffline) {
  const base = new URL(config.STRIPE_API_BASE ?? OFFLINE_STRIPE_API_BASE);
  const standin = await startStandin({
    port: Number(base.port),
    webhookUrl: `http://127.0.0.1:${config.PORT}/webhooks/stripe`,
    webhookSecret: config.STRIPE_WEBHOOK_SECRET[0],
  });
  env.STRIPE_API_BASE = standin.url;
  closeStandin = () => standin.close();
  log(`OFFLINE: no STRIPE_SECRET_KEY, so Coffer talks to the in-repo Stripe stand-in at ${standin.url}`);
  log(
    `a customer paying is simulated with: curl -X POST ${standin.url}/_standin/payment_intents/<pi_id>/pay`,
  );
}

if (stoppingAt === null) {
  const events = { log, fatal: (code: number) => void (stoppingAt === null && stop(code)) };
  children.push(new Supervised("web", "src/web.ts", { cwd: root, env }, events));
  children.push(new Supervised("worker", "jobs/worker.ts", { cwd: root, env }, events));
  for (const c of children) c.start();
  log(`web on http://127.0.0.1:${config.PORT} (GET /readyz, /openapi.json, /admin/queues)`);
}
