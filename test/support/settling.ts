import { followWhenIdle } from "../../src/flows/balance-follow.js";
import { api, pay, topUp, wallet } from "./api.js";
import { processorDeps } from "./lifecycles.js";
import { eventually, type System } from "./system.js";

/** Helpers for the settled-funds tests (SPEC → Ledger → Settling). */

/** A second paid top-up for a user who is already onboarded; waits for the credit. */
export async function topUpMore(s: System, user: string, amountMinor: number, key: string): Promise<string> {
  const before = (await wallet(s.url, user)).available;
  const created = await topUp(s.url, user, amountMinor, "usd", key);
  if (created.status !== 201) throw new Error(`top-up: ${JSON.stringify(created.body)}`);
  const pi = created.body.payment_intent_id as string;
  await pay(s.standin.url, pi);
  await eventually(async () => (await wallet(s.url, user)).available >= before + amountMinor, {
    what: "credit",
  });
  return pi;
}

export interface ShownBalance {
  currency: string;
  available_minor: number;
  pending_minor: number;
  held_minor: number;
  settling_minor: number;
}

/** The usd balance as the wallet API shows it, with the response's ETag. */
export async function walletRead(
  s: System,
  user: string,
): Promise<{ etag: string | null; balance: ShownBalance }> {
  const r = await api(s.url, "GET", "/v1/wallet", { user });
  const b = (r.body.balances as ShownBalance[]).find((x) => x.currency === "usd");
  if (!b) throw new Error(`${user} has no usd balance: ${JSON.stringify(r.body)}`);
  return { etag: r.headers.get("etag"), balance: b };
}

/**
 * One pass exactly as a worker's timer makes it (followWhenIdle: the follow pass over the last
 * seconds, then the recheck of due pending lines), waiting out another holder of the lock.
 */
export async function workerPass(
  s: System,
): Promise<Exclude<Awaited<ReturnType<typeof followWhenIdle>>, "skipped">> {
  const deps = processorDeps(s);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await followWhenIdle(deps, 0);
    if (r !== "skipped") return r;
    if (Date.now() > deadline) throw new Error("timed out waiting for a worker's stream pass");
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** The charge line's id for a PaymentIntent's credit, as the mirror holds it (by its claim). */
export async function chargeLine(
  s: System,
  pi: string,
): Promise<{ id: string; status: string; available_on: number }> {
  const row = await s.tdb
    .db("stripe_balance_transaction_claims as c")
    .join("stripe_balance_transactions as bt", "bt.id", "c.balance_transaction_id")
    .where("c.ledger_key", `${pi}:captured`)
    .first("bt.id", "bt.status", "bt.available_on");
  if (!row) throw new Error(`no charge line mirrored for ${pi}`);
  return row as { id: string; status: string; available_on: number };
}

/** Sleeps until the wall clock (unix seconds) is past `at`. */
export async function until(at: number): Promise<void> {
  const ms = at * 1000 + 1_100 - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}
