import { createDb } from "../src/db/knex.js";
import { checkInvariants } from "../src/db/stores/ledger-checks.js";

/**
 * `npm run ledger:check`: checks every ledger invariant over the whole book and
 * exits non-zero on any violation. Negative wallets are listed but are not
 * violations: only Stripe-forced debits can cause them.
 */
const db = createDb(process.env.DATABASE_URL ?? "postgres://root@127.0.0.1:5432/coffer", { poolMax: 1 });
try {
  const report = await checkInvariants(db);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.ok ? 0 : 1;
  if (!report.ok) process.stderr.write(`ledger check FAILED: ${report.violations.length} violation(s)\n`);
} finally {
  await db.destroy();
}
