import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { loadConfigOrExit } from "../src/config.js";
import { migrateLatest } from "../src/db/migrate.js";
import { OFFLINE_STRIPE_API_BASE } from "../src/runtime.js";
import { startStandin } from "../src/standin/index.js";

/**
 * `npm start`: the whole system on one machine.
 * 1. Makes Postgres and Redis reachable (scripts/ensure-services.sh starts local ones if needed).
 * 2. Migrates.
 * 3. Without STRIPE_SECRET_KEY, starts the in-repo Stripe stand-in and points Coffer at it; the
 *    stand-in signs and delivers webhooks to the web process, so a top-up completes offline.
 * 4. Runs one web and one worker process until Ctrl-C / SIGTERM, which it forwards.
 */
const root = new URL("../", import.meta.url).pathname;
const config = loadConfigOrExit();
const log = (msg: string) => process.stdout.write(`[start] ${msg}\n`);

const local = (u: string) => ["127.0.0.1", "localhost", "::1", "[::1]"].includes(new URL(u).hostname);
if (local(config.DATABASE_URL) && local(config.REDIS_URL)) {
  const r = spawnSync("bash", ["scripts/ensure-services.sh"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const applied = await migrateLatest(config.DATABASE_URL);
log(applied.length ? `migrated: ${applied.join(", ")}` : "database is up to date");

const env: NodeJS.ProcessEnv = { ...process.env };
let closeStandin: (() => Promise<void>) | undefined;
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

const children: ChildProcess[] = [];
const run = (name: string, script: string) => {
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: root, env, stdio: "inherit" });
  child.on("exit", (code, signal) => {
    log(`${name} exited (${signal ?? code})`);
    if (!stopping) void stop(1);
  });
  children.push(child);
};
run("web", "src/web.ts");
run("worker", "jobs/worker.ts");
log(`web on http://127.0.0.1:${config.PORT} (GET /readyz, /openapi.json, /admin/queues)`);

let stopping = false;
async function stop(code: number): Promise<void> {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.on("exit", r)) : undefined)),
  );
  await closeStandin?.();
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
