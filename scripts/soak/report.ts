import type { Check } from "./audit.js";
import type { DeliveryStats } from "./delivery.js";
import type { FaultLogEntry } from "./faults.js";
import type { StripeFaults } from "./stripe-faults.js";

/** What the soak prints: a timestamped line, a progress line every few seconds, the final table. */
export function stamp(startedAt: number): string {
  const s = Math.floor((Date.now() - startedAt) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

export interface Progress {
  phase: string;
  eventsCreated: number;
  eventsTarget: number;
  delivery: DeliveryStats;
  pendingCopies: number;
  storiesDone: number;
  storiesStarted: number;
  storiesTotal: number;
  storiesFailed: number;
  faults: FaultLogEntry[];
  stripe: StripeFaults["counts"];
}

export function progressLine(p: Progress): string {
  const faults = countFaults(p.faults);
  return (
    `${p.phase.padEnd(8)} events ${p.eventsCreated}/~${p.eventsTarget} · acked ${p.delivery.acked}/${p.delivery.copies} copies ` +
    `(${p.pendingCopies} pending, ${p.delivery.retries} retries) · stories ${p.storiesDone}/${p.storiesStarted}/${p.storiesTotal}` +
    `${p.storiesFailed ? ` (${p.storiesFailed} FAILED)` : ""} · faults w${faults.worker_kill} r${faults.redis_restart} ` +
    `pg${faults.postgres_crash} web${faults.web_restart} · stripe 500×${p.stripe.error500} 429×${p.stripe.error429} drop×${p.stripe.dropAfter}`
  );
}

function countFaults(log: FaultLogEntry[]) {
  const c = { worker_kill: 0, redis_restart: 0, postgres_crash: 0, web_restart: 0 };
  for (const f of log) c[f.kind] += 1;
  return c;
}

export interface Summary {
  seed: number;
  command: string;
  events: number;
  stories: number;
  users: number;
  delivery: DeliveryStats;
  stripe: StripeFaults["counts"];
  stripeRateLimited: number;
  faults: FaultLogEntry[];
  convergeMs: number | undefined;
  convergeBoundMs: number;
  totalMs: number;
  checks: Check[];
}

export function finalTable(s: Summary): string {
  const f = countFaults(s.faults);
  const d = s.delivery;
  const refused =
    Object.entries(d.refusedByStatus)
      .map(([k, v]) => `${k}×${v}`)
      .join(" ") || "none";
  const rows: Array<[string, string]> = [
    ["seed", String(s.seed)],
    ["events (Stripe)", String(s.events)],
    ["stories / users", `${s.stories} / ${s.users}`],
    [
      "deliveries",
      `${d.attempts} attempts, ${d.copies} copies of ${d.events} events; ${d.duplicated} duplicated (${d.concurrent} concurrently)`,
    ],
    ["  not 2xx", `${refused}; ${d.networkErrors} without an answer`],
    [
      "faults",
      `worker SIGKILL ×${f.worker_kill}, Redis emptied ×${f.redis_restart}, Postgres crash ×${f.postgres_crash}, web restart ×${f.web_restart}`,
    ],
    [
      "Stripe faults",
      `${s.stripe.requests} requests: 500 ×${s.stripe.error500}, 429 ×${s.stripe.error429}, dropped after acting ×${s.stripe.dropAfter}; rate-limited by the stand-in ×${s.stripeRateLimited}`,
    ],
    [
      "time to converge",
      s.convergeMs === undefined
        ? `did not (bound ${s.convergeBoundMs / 1000} s)`
        : `${(s.convergeMs / 1000).toFixed(1)} s (bound ${s.convergeBoundMs / 1000} s)`,
    ],
    ["total time", `${(s.totalMs / 1000).toFixed(0)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length), ...s.checks.map((c) => c.name.length)) + 2;
  const lines = ["", "── chaos soak ─────────────────────────────────────────────"];
  for (const [k, v] of rows) lines.push(`${k.padEnd(width)}${v}`);
  lines.push("── checks ─────────────────────────────────────────────────");
  for (const c of s.checks) lines.push(`${c.ok ? "PASS" : "FAIL"}  ${c.name.padEnd(width)}${c.detail}`);
  return lines.join("\n");
}
