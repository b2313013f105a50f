import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../src/db/knex.js";
import { CLAIM_EVENT, finishEvent, getEvent, startProcessing } from "../src/db/stores/events.js";
import { createTestDb, type TestDb } from "./support/db.js";
import { eventEnvelope, paymentIntentObject, storeEnqueued, stripeId } from "./support/events.js";

/**
 * A job's claim commits without waiting for its WAL flush (src/db/stores/events.ts says why that
 * is safe). What must hold: the setting is the claim's own transaction's and never outlives it,
 * since on a pooled connection it would otherwise cover the next transaction's postings; and the
 * claim refuses to run inside a caller's transaction, whose writes it would cover too.
 */
let tdb: TestDb;
/** One connection, so what the claim leaves on its session is what the next statement sees. */
let single: Db;

beforeAll(async () => {
  tdb = await createTestDb();
  single = createDb(tdb.url, { poolMax: 1 });
}, 60_000);
afterAll(async () => {
  await single?.destroy();
  await tdb?.drop();
});

async function storedEvent(): Promise<string> {
  const event = eventEnvelope("payment_intent.succeeded", paymentIntentObject({ id: stripeId("pi") }));
  await storeEnqueued(tdb.db, event as { id: string; type: string; created: number });
  return event.id as string;
}

const setting = async (db: Db) =>
  (await db.raw<{ rows: Array<{ synchronous_commit: string }> }>("SHOW synchronous_commit")).rows[0]!
    .synchronous_commit;

describe("claiming an event", () => {
  it("claims it once per attempt and leaves the session committing synchronously", async () => {
    const id = await storedEvent();
    expect(await setting(single)).toBe("on");
    const first = await startProcessing(single, id);
    expect(first).toMatchObject({ id, type: "payment_intent.succeeded", attempts: 1 });
    expect(await setting(single)).toBe("on");
    expect((await startProcessing(single, id))?.attempts).toBe(2);
    expect((await getEvent(tdb.db, id))?.status).toBe("processing");

    await finishEvent(tdb.db, id, "processed", null);
    expect(await startProcessing(single, id)).toBeNull();
    expect(await getEvent(tdb.db, id)).toMatchObject({ status: "processed", attempts: 2 });
    expect(await setting(single)).toBe("on");
  });

  it("turns synchronous commit off for its own transaction only", async () => {
    const id = await storedEvent();
    const c = new pg.Client({ connectionString: tdb.url });
    await c.connect();
    try {
      const show = async () => (await c.query("SHOW synchronous_commit")).rows[0].synchronous_commit;
      await c.query("BEGIN");
      expect(await show()).toBe("on");
      const { rows } = await c.query(CLAIM_EVENT.text, [id]);
      expect(rows).toHaveLength(1);
      expect(await show()).toBe("off");
      await c.query("COMMIT");
      expect(await show()).toBe("on");
    } finally {
      await c.end();
    }
  });

  it("refuses to run inside a caller's transaction, and changes nothing", async () => {
    const id = await storedEvent();
    await expect(tdb.db.transaction((trx) => startProcessing(trx, id))).rejects.toThrow(
      /outside a transaction/,
    );
    expect(await getEvent(tdb.db, id)).toMatchObject({ status: "enqueued", attempts: 0 });
  });
});
