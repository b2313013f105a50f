import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_RUN_OWNED_MS, createRun, findOpenRuns } from "../src/db/stores/reconciliation.js";
import { createTestDb, type TestDb } from "./support/db.js";

/**
 * The sweeper re-enqueues open runs whose job Redis may have lost, but a run `npm run reconcile`
 * made belongs to that process while it waits for the lock (up to 10 minutes): taken by a worker,
 * the CLI found its run done and printed no progress (seen under load in a CI run). Only once its
 * process must be gone does a worker finish it.
 */
let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
}, 60_000);
afterAll(async () => tdb?.drop());

const day = { from: new Date("2026-12-01T00:00:00Z"), to: new Date("2026-12-02T00:00:00Z") };
async function openRun(id: string, trigger: "cli" | "admin", ageMs: number): Promise<void> {
  await createRun(tdb.db, { id, trigger, requestedBy: trigger, ...day });
  await tdb.db.raw(
    `UPDATE reconciliation_runs SET started_at = now() - (? * interval '1 millisecond') WHERE id = ?`,
    [ageMs, id],
  );
}

describe("open runs the sweeper takes", () => {
  it("leaves a CLI's run to it while it may still be waiting, and takes it once it cannot be", async () => {
    await openRun("rec_admin", "admin", 5_000);
    await openRun("rec_cli_waiting", "cli", 5 * 60_000);
    await openRun("rec_cli_gone", "cli", CLI_RUN_OWNED_MS + 60_000);
    expect((await findOpenRuns(tdb.db, 1_500)).sort()).toEqual(["rec_admin", "rec_cli_gone"]);
  });
});
