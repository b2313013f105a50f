import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "./support/api.js";
import { startSystem, type System } from "./support/system.js";
import { tokenFor } from "./support/tokens.js";

/** Bull Board sits behind admin auth, and what an admin does there is audited. */
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
});
afterAll(async () => sys?.stop());

describe("Bull Board at /admin/queues", () => {
  it("refuses anonymous callers and non-admins", async () => {
    expect((await api(sys.url, "GET", "/admin/queues")).status).toBe(401);
    expect((await api(sys.url, "GET", "/admin/queues/api/queues", { user: "u1" })).status).toBe(403);
  });

  it("serves admins, by header or cookie, and audits their actions", async () => {
    const board = await api(sys.url, "GET", "/admin/queues", { user: "ops", role: "admin" });
    expect(board.status).toBe(200);
    const byCookie = await fetch(`${sys.url}/admin/queues/api/queues`, {
      headers: { cookie: `coffer_admin_token=${tokenFor("ops", { role: "admin" })}` },
    });
    expect(byCookie.status).toBe(200);
    const queues = (await byCookie.json()) as { queues: Array<{ name: string }> };
    expect(queues.queues.map((q) => q.name).sort()).toEqual([
      "disputes",
      "maintenance",
      "payments",
      "reconciliation",
      "refunds",
      "subscriptions",
      "withdrawals",
    ]);

    const action = await api(sys.url, "PUT", "/admin/queues/api/queues/payments/retry/failed", {
      user: "ops",
      role: "admin",
    });
    expect(action.status).toBeLessThan(500);
    const audit = await sys.tdb.db("admin_audit_log").select("actor", "action", "target");
    expect(audit).toEqual([
      { actor: "ops", action: "bull_board.put", target: "/api/queues/payments/retry/failed" },
    ]);
    expect(await sys.tdb.db.raw("DELETE FROM admin_audit_log").catch((e: Error) => e.message)).toMatch(
      /append-only/,
    );
  });
});
