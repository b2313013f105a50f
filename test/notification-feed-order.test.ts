import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listNotifications, recordNotification } from "../src/db/stores/notifications.js";
import type { Tx } from "../src/db/knex.js";
import { ensureUser } from "../src/db/stores/users.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { eventually } from "./support/system.js";

/**
 * The notification feed never skips a row that commits late (src/db/stores/notifications.ts).
 * Ids come from the sequence at insert, so a lower id can commit after a higher one was read;
 * a consumer paging with `starting_after` must still get it, once. Each case holds a transaction
 * open with a row in it while another row commits, and a consumer pages meanwhile.
 *
 * The horizon is cluster-wide, so another test's open transaction may briefly hold rows back:
 * what must be listed is waited for (eventually); what must not be listed is asserted at once.
 */
let tdb: TestDb;
const USER = "feed-user";
beforeAll(async () => {
  tdb = await createTestDb();
  await ensureUser(tdb.db, USER);
});
afterAll(async () => tdb?.drop());

let seq = 0;
async function record(trx: Tx): Promise<number> {
  const key = `feed-test:${++seq}`;
  await recordNotification(trx, {
    user_id: USER,
    kind: "trial_will_end",
    subscription_id: null,
    dedupe_key: key,
    payload: {},
  });
  const row = await trx("user_notifications").where({ dedupe_key: key }).first("id");
  return Number(row.id);
}

/** A consumer: reads pages after its cursor and keeps what it saw, in order. */
function consumer(limit = 2) {
  const seen: number[] = [];
  let cursor: number | undefined;
  return {
    seen,
    async poll(): Promise<number[]> {
      for (;;) {
        const page = await listNotifications(tdb.db, {
          limit,
          ...(cursor !== undefined && { startingAfter: cursor }),
        });
        for (const n of page.data) seen.push(Number(n.id));
        if (page.data.length > 0) cursor = Number(page.data.at(-1)!.id);
        if (!page.hasMore) return seen;
      }
    },
  };
}

describe("the notification feed under concurrent inserts", () => {
  it("a lower id held open while a higher one commits: nothing is listed past it, then both", async () => {
    const c = consumer();
    await c.poll();
    const before = c.seen.length;
    const open = await tdb.db.transaction();
    const low = await record(open);
    const high = await record(tdb.db); // committed at once, a higher id
    expect(high).toBeGreaterThan(low);
    // Paging by id alone would list `high` now and move the cursor past `low` for good.
    await c.poll();
    expect(c.seen.slice(before)).toEqual([]);
    await open.commit();
    await eventually(async () => (await c.poll()).length === before + 2, { what: "both listed" });
    expect(c.seen.slice(before)).toEqual([low, high]);
  });

  it("an older transaction commits a higher id first: it is listed, and the lower id after it later", async () => {
    const c = consumer();
    await c.poll();
    const before = c.seen.length;
    // `older` takes its transaction id first, so its row (a higher id) sorts before `younger`'s.
    const older = await tdb.db.transaction();
    await older.raw("SELECT pg_current_xact_id()");
    const younger = await tdb.db.transaction();
    const low = await record(younger);
    const high = await record(older);
    await older.commit();
    await eventually(async () => (await c.poll()).length === before + 1, { what: "the committed row" });
    expect(c.seen.slice(before)).toEqual([high]);
    // The cursor is now `high`, above `low`; `low` still comes.
    await younger.commit();
    await eventually(async () => (await c.poll()).length === before + 2, { what: "the late row" });
    expect(c.seen.slice(before)).toEqual([high, low]);
  });

  it("writers holding transactions open for random times while a consumer pages: each row once", async () => {
    const c = consumer(3);
    await c.poll();
    const before = c.seen.length;
    const written: number[] = [];
    let writing = true;
    const reading = (async () => {
      while (writing) {
        await c.poll();
        await sleep(3);
      }
    })();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 10; i++) {
          await tdb.db.transaction(async (trx) => {
            if ((w + i) % 2 === 0) await trx.raw("SELECT pg_current_xact_id()");
            await sleep(Math.floor(Math.random() * 15));
            written.push(await record(trx));
            await sleep(Math.floor(Math.random() * 25));
          });
        }
      }),
    );
    writing = false;
    await reading;
    await eventually(async () => (await c.poll()).length >= before + written.length, {
      what: "every row listed",
    });
    const got = c.seen.slice(before);
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort((a, b) => a - b)).toEqual([...written].sort((a, b) => a - b));
    // Ids do go backwards in the feed here: the case paging by id would have lost.
    expect(got.some((id, k) => k > 0 && id < got[k - 1]!)).toBe(true);
  });
});
