import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROOT } from "./support/processes.js";

/**
 * docker-compose.yml, checked by a real Compose implementation that needs no daemon: Debian's
 * `docker-compose` (.ci/run installs it) validates the file against the Compose schema and
 * prints it resolved (anchors merged, variables filled in), and the assertions read that, not
 * the source. Python's YAML reader, which docker-compose itself depends on, turns it into JSON.
 */
const COMPOSE = "docker-compose";
const hasCompose = spawnSync(COMPOSE, ["version"], { stdio: "ignore" }).status === 0;
if (!hasCompose && process.env.CI)
  throw new Error("docker-compose is missing: .ci/run installs it (apt-get install docker-compose)");

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  init?: boolean;
  restart?: string;
  ports?: Array<string | { published: number | string; target: number }>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
}

function resolved(env: Record<string, string> = {}): Record<string, Service> {
  const yaml = execFileSync(COMPOSE, ["-f", "docker-compose.yml", "config"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  const json = execFileSync(
    "/usr/bin/python3",
    ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
    { input: yaml },
  );
  return (JSON.parse(json.toString()) as { services: Record<string, Service> }).services;
}

describe.skipIf(!hasCompose)("docker-compose.yml", () => {
  const services = hasCompose ? resolved() : {};
  const app = ["migrate", "standin", "web", "worker"];

  it("is valid Compose and has the services the README names", () => {
    expect(Object.keys(services).sort()).toEqual([
      "migrate",
      "postgres",
      "redis",
      "standin",
      "web",
      "worker",
    ]);
  });

  it("builds one image once, from scripts/docker/Dockerfile, for every Coffer service", () => {
    const builders = Object.entries(services).filter(([, s]) => s.build);
    expect(builders.map(([name]) => name)).toEqual(["migrate"]);
    const build = builders[0]![1].build!;
    expect(build.context).toBe(ROOT.replace(/\/$/, ""));
    expect(build.dockerfile).toBe("scripts/docker/Dockerfile");
    for (const name of app) expect(services[name]!.image, name).toBe("coffer:local");
    // Everything the Dockerfile copies exists, and its ignore file sits where BuildKit reads it.
    const dockerfile = readFileSync(`${ROOT}/${build.dockerfile}`, "utf8");
    for (const [, from] of dockerfile.matchAll(/^COPY (.+) \S+$/gm))
      for (const path of from!.split(" ")) expect(existsSync(`${ROOT}/${path}`), path).toBe(true);
    expect(existsSync(`${ROOT}/${build.dockerfile}.dockerignore`)).toBe(true);
  });

  it("runs node itself under an init, never npm, and restarts what should keep running", () => {
    for (const [name, s] of Object.entries(services)) expect(s.init, name).toBe(true);
    for (const name of app) {
      const command = services[name]!.command!.join(" ");
      expect(command, name).toMatch(/(^|exec )node --import tsx /);
      // npm and the tsx CLI each add a process that a signal may not get through.
      expect(command, name).not.toMatch(/\bnpm\b|\bnpx\b|(?<!--import )\btsx /);
    }
    for (const name of ["postgres", "redis", "standin", "web", "worker"])
      expect(services[name]!.restart, name).toBe("unless-stopped");
    expect(services.migrate!.restart).toBe("no"); // one-shot: a restart would only repeat it
  });

  it("checks Postgres over TCP and waits for it before migrating", () => {
    expect(services.postgres!.healthcheck!.test.join(" ")).toMatch(/pg_isready -h 127\.0\.0\.1\b/);
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(services.migrate!.command!.join(" ")).toMatch(
      /wait-for-db\.ts && exec node --import tsx scripts\/migrate\.ts/,
    );
    for (const name of ["web", "worker"])
      expect(services[name]!.depends_on!.migrate).toEqual({ condition: "service_completed_successfully" });
  });

  it("keeps Redis's keys (noeviction) and its jobs across restarts (AOF)", () => {
    const command = services.redis!.command!.join(" ");
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(command).toMatch(/--appendonly yes/);
  });

  it("publishes web and the stand-in where the README's host commands look, and checks /readyz", () => {
    expect(JSON.stringify(services.web!.ports)).toMatch(/3000/);
    expect(JSON.stringify(services.standin!.ports)).toMatch(/127\.0\.0\.1.*12111/);
    expect(services.web!.healthcheck!.test.join(" ")).toMatch(/http:\/\/127\.0\.0\.1:3000\/readyz/);
    expect(services.standin!.environment!.STRIPE_WEBHOOK_URL).toBe("http://web:3000/webhooks/stripe");
  });

  it("runs offline with the shared defaults, and takes real secrets from the environment", () => {
    expect(services.web!.environment!.STRIPE_WEBHOOK_SECRET).toBe("");
    const live = resolved({ STRIPE_SECRET_KEY: "sk_live_x", STRIPE_WEBHOOK_SECRET: "whsec_live" });
    expect(live.worker!.environment!.STRIPE_SECRET_KEY).toBe("sk_live_x");
    expect(live.web!.environment!.STRIPE_WEBHOOK_SECRET).toBe("whsec_live");
  });
});

describe("scripts/docker/wait-for-db.ts", () => {
  const wait = (url: string, waitS: string) =>
    spawnSync(process.execPath, ["--import", "tsx", "scripts/docker/wait-for-db.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: url, WAIT_FOR_DB_S: waitS },
      encoding: "utf8",
    });

  it("returns once Postgres answers, and gives up on one that never does", { timeout: 30_000 }, () => {
    const up = wait("postgres://root@127.0.0.1:5432/coffer_not_created_yet", "10");
    expect(up.status, up.stderr).toBe(0);
    const started = Date.now();
    const down = wait("postgres://root@127.0.0.1:1/coffer", "2");
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/did not answer/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
  });
});
