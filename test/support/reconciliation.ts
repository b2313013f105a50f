/* eslint-disable @typescript-eslint/no-explicit-any -- test client: bodies are asserted field by field */
import { api } from "./api.js";
import { eventually, type System } from "./system.js";

const admin = { user: "finance-admin", role: "admin" } as const;

/** A window around everything a test did: from a day ago to a minute from now. */
export function wholeTest(): { from: string; to: string } {
  return {
    from: new Date(Date.now() - 86_400_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
  };
}

/** Starts a run the way finance does (the admin API) and waits for it to finish. */
export async function reconcile(sys: System, window = wholeTest()): Promise<any> {
  const started = await api(sys.url, "POST", "/admin/reconciliation/runs", { ...admin, body: window });
  if (started.status !== 202) throw new Error(`run: ${started.status} ${JSON.stringify(started.body)}`);
  return waitForRun(sys, started.body.id as string);
}

export async function waitForRun(sys: System, id: string, timeoutMs = 60_000): Promise<any> {
  return eventually(
    async () => {
      const r = await api(sys.url, "GET", `/admin/reconciliation/runs/${id}?limit=100`, admin);
      return ["matched", "mismatch", "failed"].includes(r.body.status as string) ? r.body : null;
    },
    { timeoutMs, what: `reconciliation run ${id}` },
  );
}

export const adminCall = (sys: System, method: string, path: string, body?: unknown) =>
  api(sys.url, method, path, { ...admin, ...(body !== undefined && { body }) });

export async function ledgerTransactionCount(sys: System): Promise<number> {
  const r = await sys.tdb.db("wallet_ledger_transactions").count({ n: "*" }).first();
  return Number(r?.n);
}
