import pg from "pg";
import { Cleanup, createBenchDatabase } from "./env.js";

/**
 * `tsx scripts/bench/explain-events.ts [rows]`: the plans of every read of stripe_webhook_events
 * on a migrated throwaway database holding `rows` events (default 100,000: mostly processed, a
 * few failed, ignored and open, as in production), and what one more index costs the insert
 * (the same rows inserted with and without stripe_webhook_events_status_idx, as a ratio).
 */
const rows = Number(process.argv[2] ?? 100_000);
const cleanup = new Cleanup();
const log = (m: string) => process.stderr.write(`[explain] ${m}\n`);
try {
  const { databaseUrl } = await createBenchDatabase(cleanup, "coffer_explain");
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  cleanup.add("client", () => c.end());
  const payload = JSON.stringify({
    object: "event",
    data: { object: { id: "pi_x", amount: 1000, metadata: { a: "b".repeat(2000) } } },
  });
  // id order is time order (evt_ ids sort by arrival in this fill); statuses as a healthy system has them.
  const fill = (table: string) =>
    c.query(
      `INSERT INTO ${table} (id, type, livemode, stripe_created, payload, status, enqueued_at, last_error)
       SELECT 'evt_' || lpad(g::text, 10, '0'), 'payment_intent.succeeded', false, 1, $1::jsonb || jsonb_build_object('n', g),
              CASE WHEN g % 1000 = 7 THEN 'failed' WHEN g % 500 = 3 THEN 'ignored'
                   WHEN g > $2 - 200 THEN 'enqueued' ELSE 'processed' END,
              CASE WHEN g > $2 - 200 THEN now() END, NULL
         FROM generate_series(1, $2) g`,
      [payload, rows],
    );
  // WAL bytes are what the index adds deterministically; the time is what it costs on this machine.
  const lsn = async () => (await c.query("SELECT pg_current_wal_insert_lsn() AS l")).rows[0].l as string;
  const timed = async (label: string, table: string) => {
    const [t, from] = [performance.now(), await lsn()];
    await fill(table);
    const ms = performance.now() - t;
    const wal = Number(
      (await c.query("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1) AS d", [from])).rows[0].d,
    );
    log(`${label}: ${ms.toFixed(0)} ms, ${(wal / rows).toFixed(0)} WAL bytes per row`);
    return { ms, wal };
  };
  // Insert cost with the status index and without it, alternated, each into an empty copy of the table.
  const ratios: Array<{ ms: number; wal: number }> = [];
  for (let round = 0; round < 3; round++) {
    const times: Record<string, { ms: number; wal: number }> = {};
    for (const withIdx of round % 2 === 0 ? [true, false] : [false, true]) {
      await c.query(
        `DROP TABLE IF EXISTS ev_copy; CREATE TABLE ev_copy (LIKE stripe_webhook_events INCLUDING ALL)`,
      );
      if (withIdx) await c.query(`CREATE INDEX ON ev_copy (status, id)`);
      times[String(withIdx)] = await timed(
        `round ${round + 1} ${withIdx ? "with" : "without"} status_idx`,
        "ev_copy",
      );
    }
    ratios.push({ ms: times.false!.ms / times.true!.ms, wal: times.false!.wal / times.true!.wal });
  }
  const fmt = (k: "ms" | "wal") => ratios.map((r) => r[k].toFixed(2)).join(", ");
  console.log(
    `without / with the (status, id) index, ${rows} rows: insert time ${fmt("ms")}; WAL ${fmt("wal")}`,
  );
  await c.query(`DROP TABLE ev_copy`);

  await fill("stripe_webhook_events");
  await c.query("VACUUM ANALYZE stripe_webhook_events");
  const indexes = await c.query(
    `SELECT indexname FROM pg_indexes WHERE tablename = 'stripe_webhook_events' ORDER BY 1`,
  );
  console.log(`indexes: ${indexes.rows.map((r) => r.indexname).join(", ")}`);
  const list = (status: string, after?: string) =>
    `SELECT id, type, livemode, account, stripe_created, received_at, status, attempts, last_error, enqueued_at, processed_at
       FROM stripe_webhook_events WHERE status = '${status}'${after ? ` AND id < '${after}'` : ""} ORDER BY id DESC LIMIT 51`;
  const mid = `evt_${String(Math.floor(rows / 2)).padStart(10, "0")}`;
  const queries: Array<[string, string]> = [
    ["summary: failed count", `SELECT count(*) FROM stripe_webhook_events WHERE status = 'failed'`],
    ["list all", `SELECT id FROM stripe_webhook_events ORDER BY id DESC LIMIT 51`],
    ...["failed", "ignored", "processed", "enqueued", "processing", "received"].flatMap(
      (s): Array<[string, string]> => [
        [`list ${s}`, list(s)],
        [`list ${s}, page 2 (id < middle)`, list(s, mid)],
      ],
    ),
    [
      "sweeper",
      `SELECT id, type FROM stripe_webhook_events WHERE status IN ('received', 'enqueued', 'processing')
         AND (enqueued_at IS NULL OR enqueued_at < now() - (30000 * interval '1 millisecond')) ORDER BY enqueued_at NULLS FIRST LIMIT 100`,
    ],
  ];
  for (const [label, sql] of queries) {
    const { rows: plan } = await c.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`);
    const lines = plan.map((r) => r["QUERY PLAN"] as string);
    const time = lines.find((l) => l.startsWith("Execution Time")) ?? "";
    console.log(`\n${label}: ${time}`);
    for (const l of lines.filter((l) => !/^(Planning|Execution)/.test(l))) console.log(`  ${l}`);
  }
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup.run(log);
  process.exit();
}
