import pg from "pg";

/**
 * Waits until Postgres answers a query, so the compose migrate step can start with the database
 * container rather than fail against it: a first `up` on a fresh volume has the image's own
 * init server running for a while, and a healthy check is no promise that the next connection
 * works. Asks the `postgres` maintenance database, since migrate creates Coffer's.
 *   DATABASE_OWNER_URL, else DATABASE_URL   whom to ask
 *   WAIT_FOR_DB_S                           give up after this long (default 120): exit 1
 */
const target = new URL(
  process.env.DATABASE_OWNER_URL || process.env.DATABASE_URL || "postgres://root@127.0.0.1:5432/coffer",
);
target.pathname = "/postgres";
const deadline = Date.now() + Number(process.env.WAIT_FOR_DB_S ?? 120) * 1000;
const where = `${target.hostname}:${target.port || 5432}`;

for (let attempt = 1; ; attempt++) {
  const client = new pg.Client({ connectionString: target.toString(), connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    process.stdout.write(`wait-for-db: Postgres at ${where} answers\n`);
    process.exit(0);
  } catch (err) {
    if (Date.now() >= deadline) {
      process.stderr.write(`wait-for-db: Postgres at ${where} did not answer: ${String(err)}\n`);
      process.exit(1);
    }
    if (attempt === 1 || attempt % 10 === 0)
      process.stdout.write(`wait-for-db: waiting for Postgres at ${where} (${String(err)})\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
  await new Promise((r) => setTimeout(r, 1_000));
}
