import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OFFLINE_JWT_SECRET } from "../src/offline.js";
import { api, pay } from "./support/api.js";
import { ADMIN_URL, appDbUrl, dbUrl, REDIS_URL, runId } from "./support/pg-urls.js";
import {
  exitWithin,
  expectNoneLeft,
  freePort,
  killMarked,
  launch,
  portIsFree,
  ROOT,
  tail,
  waitForOk,
  type Launched,
} from "./support/processes.js";
import { eventually } from "./support/system.js";
import { tokenFor } from "./support/tokens.js";

/**
 * The Procfile run the way a Procfile runner runs it: `release` alone first (Heroku's release
 * phase, `foreman run release`), then `nf start web,worker` (nf gives the first process PORT),
 * beside `npm run start:standin`, all with one environment and no secrets: the offline
 * defaults, whose webhook secret the stand-in shares. An offline top-up is credited end to end,
 * then Ctrl-C (SIGINT to the runner's process group) drains both; and SIGTERM to nf alone,
 * which nf does not handle, still leaves nothing behind.
 */
const PROCFILE = Object.fromEntries(
  readFileSync(`${ROOT}/Procfile`, "utf8")
    .split("\n")
    .filter((l) => /^\w+:/.test(l))
    .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
);
const dbName = `coffer_test_${runId()}_procfile_${randomBytes(4).toString("hex")}`;
let env: Record<string, string>;
const launched: Launched[] = [];
const run = (command: string, args: string[]) => {
  const l = launch(command, args, env);
  launched.push(l);
  return l;
};

beforeAll(async () => {
  const port = await freePort();
  env = {
    // The release runs as the owner and creates the app's role; web and worker run as that role.
    DATABASE_OWNER_URL: dbUrl(dbName),
    DATABASE_URL: appDbUrl(dbName),
    REDIS_URL,
    QUEUE_PREFIX: `test-${randomUUID()}`,
    PORT: String(port),
    WORKER_METRICS_PORT: String(await freePort()),
    STRIPE_API_BASE: `http://127.0.0.1:${await freePort()}`,
    BALANCE_STREAM_INTERVAL_MS: "0",
    LOG_LEVEL: "info",
  };
});

afterAll(async () => {
  for (const l of launched) killMarked(l.mark);
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).finally(() => admin.end());
});

const base = () => `http://127.0.0.1:${env.PORT}`;
const nfStart = () => run("node_modules/.bin/nf", ["start", "-j", "Procfile", "-p", env.PORT!, "web,worker"]);

describe("the Procfile under a runner", () => {
  it("lists web first, and node itself on every line", () => {
    expect(Object.keys(PROCFILE)[0]).toBe("web");
    expect(Object.keys(PROCFILE).sort()).toEqual(["release", "web", "worker"]);
    for (const command of Object.values(PROCFILE)) expect(command).toMatch(/^exec node --import tsx /);
  });

  it("release migrates a new database and exits", { timeout: 120_000 }, async () => {
    const release = run("sh", ["-c", PROCFILE.release!]);
    expect((await exitWithin(release, 90_000)).code, tail(release.lines)).toBe(0);
    const c = new pg.Client({ connectionString: env.DATABASE_URL }); // as the app: it may read
    await c.connect();
    const { rows } = await c
      .query("SELECT count(*)::int AS n FROM stripe_webhook_events")
      .finally(() => c.end());
    expect(rows[0].n).toBe(0);
  });

  it(
    "web, worker and the stand-in credit an offline top-up, then stop on Ctrl-C",
    { timeout: 180_000 },
    async () => {
      const standin = run("npm", ["run", "start:standin"]);
      await standin.waitForLine(/Stripe stand-in listening/);
      const nf = nfStart();
      await waitForOk(`${base()}/readyz`).catch((err: Error) => {
        throw new Error(`${err.message}\n${tail(nf.lines)}`);
      });
      await nf.waitForLine(/"msg":"workers started"/);

      // Signed with the offline default, as `npm run token` would sign it with no configuration.
      const auth = { authorization: `Bearer ${tokenFor("procfile-user", { secret: OFFLINE_JWT_SECRET })}` };
      const created = await api(base(), "POST", "/v1/wallet/top-ups", {
        body: { amount_minor: 2500, currency: "usd" },
        headers: { ...auth, "idempotency-key": "procfile-1" },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect((await pay(env.STRIPE_API_BASE!, created.body.payment_intent_id)).status).toBe(200);
      await eventually(
        async () => {
          const w = await api(base(), "GET", "/v1/wallet", { headers: auth });
          return (
            w.body.balances?.find((b: { currency: string }) => b.currency === "usd")?.available_minor === 2500
          );
        },
        { timeoutMs: 30_000, what: "the offline top-up credited" },
      );

      process.kill(-nf.pid, "SIGINT"); // a terminal's Ctrl-C: the runner and its children at once
      await exitWithin(nf, 60_000);
      await expectNoneLeft(nf.mark);
      await nf.closed; // its last lines read
      // Each drained (exit 0) rather than dying of the echoed signal; nf says so per process.
      expect(
        nf.lines.filter((l) => /(web|worker)\.1.*Exited Successfully/.test(l)).length,
        tail(nf.lines),
      ).toBe(2);

      process.kill(standin.pid, "SIGTERM");
      expect((await exitWithin(standin, 30_000)).code).toBe(0);
      await expectNoneLeft(standin.mark);
      for (const port of [env.PORT, env.WORKER_METRICS_PORT, new URL(env.STRIPE_API_BASE!).port])
        expect(await portIsFree(Number(port))).toBe(true);
    },
  );

  it(
    "SIGTERM to nf alone (which nf does not handle) leaves nothing behind",
    { timeout: 120_000 },
    async () => {
      const nf = nfStart();
      await waitForOk(`${base()}/readyz`);
      await nf.waitForLine(/"msg":"workers started"/);
      process.kill(nf.pid, "SIGTERM");
      await exitWithin(nf, 10_000);
      // nf died at once; its children see their parent gone within a second and drain.
      await expectNoneLeft(nf.mark, 30_000);
      expect(await portIsFree(Number(env.PORT))).toBe(true);
    },
  );
});
