import type { ApiClient } from "./api.js";
import {
  check,
  eventChecks,
  ledgerCheck,
  openEvents,
  reconciliationCheck,
  subscriptionChecks,
  walletDifferences,
  withdrawalChecks,
  type Check,
} from "./audit.js";
import type { Deliverer } from "./delivery.js";
import type { Harness } from "./harness.js";
import { restart } from "./faults.js";
import type { Model } from "./model.js";
import { sleep } from "./random.js";
import { describeFailure, type WorkloadState } from "./run-workload.js";
import { subscriptionExpectations } from "./stories-subscriptions.js";
import { onboardedAccount } from "./stories-withdrawals.js";
import type { SoakSystem } from "./system.js";

interface Run {
  sys: SoakSystem;
  api: ApiClient;
  model: Model;
  deliverer: Deliverer;
  workload: WorkloadState;
  boundMs: number;
}

/**
 * After the faults stop: every story finishes, every delivery is acknowledged, every event row
 * is terminal and every wallet equals the model. Returns how long that took from the moment
 * the faults stopped, or undefined if it did not happen within the bound.
 */
export async function converge(r: Run, say: (line: string) => void): Promise<number | undefined> {
  const from = Date.now();
  const deadline = from + r.boundMs;
  // A process that died by itself is a finding (reported by the audit); start it so the rest can converge.
  for (const p of r.sys.processes.all()) if (!p.alive()) await restart(p, say);
  const storiesDone = await Promise.race([
    r.workload.finished.then(() => true),
    sleep(r.boundMs).then(() => false),
  ]);
  if (!storiesDone) return undefined;
  await Promise.race([r.deliverer.drain(), sleep(Math.max(0, deadline - Date.now()))]);
  let last = "";
  while (Date.now() < deadline) {
    const open = await openEvents(r.sys.ownerUrl).catch(() => -1);
    const diffs =
      open === 0 && r.deliverer.pending === 0 ? await walletDifferences(r.api, r.model) : undefined;
    if (diffs?.length === 0) return Date.now() - from;
    const now = `open events ${open}, pending deliveries ${r.deliverer.pending}, wallets differing ${diffs?.length ?? "?"}`;
    if (now !== last) say(`converging: ${now}`);
    last = now;
    await sleep(2_000);
  }
  return undefined;
}

export interface AuditInput extends Run {
  harness: Harness;
  anomalies: string[];
  midRun: string;
  soakStartedAt: Date;
  converged: number | undefined;
}

const list = (xs: string[], n = 5) =>
  xs.slice(0, n).join("; ") + (xs.length > n ? `; … (${xs.length} in all)` : "");

export async function audit(a: AuditInput): Promise<Check[]> {
  await a.deliverer.drain(); // the events Coffer's last actions made are in the list to check
  const checks: Check[] = [];
  const failedStories = a.workload.failed.map(describeFailure);
  const unfinished = a.workload.total - a.workload.done;
  const storyDetail = failedStories.length
    ? list(failedStories, 3)
    : unfinished
      ? `${unfinished} of ${a.workload.total} still running`
      : `${a.workload.done} stories`;
  checks.push(check("every story completed", failedStories.length === 0 && unfinished === 0, storyDetail));
  checks.push(
    check(
      "balances converged within the bound",
      a.converged !== undefined,
      a.converged === undefined ? `not within ${a.boundMs / 1000} s` : `${(a.converged / 1000).toFixed(1)} s`,
    ),
  );
  const diffs = await walletDifferences(a.api, a.model);
  checks.push(
    check(
      "every wallet equals the soak's model",
      diffs.length === 0,
      diffs.length ? list(diffs) : `${a.model.wallets().length} wallets of ${a.model.users.size} users`,
    ),
  );
  checks.push(...(await eventChecks(a.sys.ownerUrl, a.deliverer.seenEvents, a.deliverer.ackedIds)));
  checks.push(ledgerCheck(a.sys.appUrl));
  checks.push(...(await withdrawalChecks(a.harness.stripe, a.api, a.model, onboardedAccount)));
  checks.push(...(await subscriptionChecks(a.harness.stripe, a.api, subscriptionExpectations)));
  checks.push(await reconciliationCheck(a.api, a.soakStartedAt));
  checks.push(
    check(
      "Coffer's answers as the model expected",
      a.anomalies.length === 0,
      a.anomalies.length ? list(a.anomalies) : "no surprises",
    ),
  );
  const exits = a.sys.processes.all().flatMap((p) => p.unexpectedExits);
  checks.push(
    check("no Coffer process died by itself", exits.length === 0, exits.length ? list(exits) : "none"),
  );
  checks.push(check("a reconciliation run started during the storm", a.midRun.startsWith("rec_"), a.midRun));
  return checks;
}
