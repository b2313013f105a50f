import { parseArgs } from "node:util";
import { loadConfigOrExit } from "../src/config.js";
import { createRun, finishRun } from "../src/db/stores/reconciliation.js";
import { runReconciliation } from "../src/flows/reconcile-run.js";
import { isDomainError } from "../src/ledger/errors.js";
import { previousUtcDay, requestedWindow } from "../src/flows/reconcile-window.js";
import { newId } from "../src/ids.js";
import { closeQueues, createQueues, queueSettings } from "../src/queue/queues.js";
import { createRuntime } from "../src/runtime.js";

/**
 * `npm run reconcile [-- --from 2026-11-30T00:00:00Z --to 2026-12-01T00:00:00Z]`: one
 * reconciliation in the foreground (default: yesterday, UTC), with a progress line
 * per page of balance transactions and the per-currency table at the end. Exits 1 on
 * a mismatch, 2 if the run could not finish. Heals need workers running to apply
 * the events it ingests; without them the wait runs out and the lines stay unmatched.
 */
const { values } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" } } });
const config = loadConfigOrExit();
const rt = createRuntime(config, "coffer-reconcile");
// The runtime's connection, which the Stripe budget counts on too; closed below, or the process would not end.
const redis = rt.redis;
const queues = createQueues(redis, queueSettings(config));
const out = (line: string) => process.stdout.write(`${line}\n`);
let runId: string | undefined;
try {
  const window =
    values.from === undefined && values.to === undefined
      ? previousUtcDay(new Date())
      : requestedWindow(date(values.from), date(values.to));
  const run = await createRun(rt.db, { id: newId("rec"), trigger: "cli", requestedBy: "cli", ...window });
  runId = run.id;
  out(`run ${run.id}: ${window.from.toISOString()} → ${window.to.toISOString()}`);
  const report = await whenFree(() =>
    runReconciliation({ ...rt, log: rt.logger, queues }, run.id, {
      healWaitMs: config.RECONCILIATION_HEAL_WAIT_MS,
      onPage: (p) => out(`page ${p.page}: ${p.lines} balance transactions read, ${p.booked} booked`),
    }),
  );
  const r = report.run;
  out(
    `lines: stripe ${r.stripe_matched} matched, ${r.stripe_unmatched} unmatched; ` +
      `ledger ${r.ledger_matched} matched, ${r.ledger_unmatched} unmatched; healed ${r.healed_events.length} events`,
  );
  console.table(
    report.snapshots.map((s) => ({
      currency: s.currency,
      stripe_available: s.stripe_available_minor,
      stripe_pending: s.stripe_pending_minor,
      ledger: s.ledger_position_minor,
      difference: s.difference_minor,
      opening_left: s.opening_balance_minor,
      fx: s.fx_exposure_minor,
      status: s.status,
    })),
  );
  out(`status: ${r.status} (details: GET /admin/reconciliation/runs/${r.id})`);
  process.exitCode = r.status === "matched" ? 0 : 1;
} catch (err) {
  // Left queued, the workers' sweeper would run it later in the background: end it here instead.
  if (runId !== undefined)
    await finishRun(rt.db, runId, { status: "failed", error: String(err) }).catch(() => {});
  process.stderr.write(`reconciliation failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
} finally {
  await closeQueues(queues);
  redis.disconnect();
  await rt.db.destroy();
}

function date(v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`not a timestamp: ${v}`);
  return d;
}

/**
 * Workers follow the balance stream every minute under the same lock, and a scheduled run may
 * hold it: wait for it (up to 10 minutes) rather than fail a cron job for being on time.
 */
async function whenFree<T>(run: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      return await run();
    } catch (err) {
      if (!isDomainError(err) || err.code !== "reconciliation_busy" || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
