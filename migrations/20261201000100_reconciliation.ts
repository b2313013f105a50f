import type { Knex } from "knex";

/**
 * Reconciliation, FX and the legacy import (SPEC → Reconciliation, Legacy migration).
 *
 * - The ledger gains the accounts that let it cover Stripe's whole balance:
 *   `platform_bank` (platform payouts go there) and `fx` (currency conversion).
 * - Stripe's balance transactions are mirrored as the stream reads them, each with
 *   the ledger keys it claims, so the line check is two anti-joins in Postgres and
 *   never holds either side in the worker's memory.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE wallet_ledger DROP CONSTRAINT wallet_ledger_account_owner;
    ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_account_owner CHECK (
      (account IN ('available','held') AND user_id IS NOT NULL) OR
      (account IN ('stripe','stripe_fees','fee_revenue','dispute_reserve','opening_balance','platform_bank','fx')
        AND user_id IS NULL));
    CREATE INDEX wallet_ledger_transactions_created ON wallet_ledger_transactions (created_at, id);
  `);

  // Legacy float columns stay as they were and are never written; the import writes this one.
  await knex.schema.alterTable("users", (t) => t.bigInteger("wallet_balance_minor"));

  await knex.schema.alterTable("stripe_webhook_events", (t) => {
    t.text("received_via").notNullable().defaultTo("webhook");
  });
  await knex.raw(`ALTER TABLE stripe_webhook_events ADD CONSTRAINT stripe_webhook_events_received_via
    CHECK (received_via IN ('webhook', 'reconciliation'))`);

  // The currency Stripe settled the charge in, when it differs from the charge's own.
  await knex.schema.alterTable("payment_transactions", (t) => t.text("settlement_currency"));

  await knex.schema.createTable("stripe_balance_transactions", (t) => {
    t.text("id").primary(); // txn_…
    t.text("type").notNullable();
    t.text("reporting_category").notNullable();
    t.text("source_id"); // ch_/py_/re_/pyr_/dp_/tr_/trr_/po_ …
    t.bigInteger("amount_minor").notNullable();
    t.bigInteger("fee_minor").notNullable();
    t.bigInteger("net_minor").notNullable();
    t.text("currency").notNullable();
    t.text("exchange_rate"); // kept as Stripe's decimal text: it is a rate, not money
    t.text("status").notNullable();
    t.bigInteger("created").notNullable(); // unix seconds, Stripe's
    t.bigInteger("available_on").notNullable();
    // Lines that are matched together: a refund and its failure net to zero at Stripe, and a
    // refund that failed before Coffer saw it was rightly never posted (src/ledger/claims.ts).
    t.text("match_group").notNullable();
    t.text("unexplained"); // why no Coffer flow accounts for it (src/ledger/claims.ts), when none does
    t.timestamp("seen_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["created", "id"]);
    t.index(["match_group"]);
  });

  // Which ledger keys each balance transaction accounts for (src/reconciliation/claims.ts).
  await knex.schema.createTable("stripe_balance_transaction_claims", (t) => {
    // No foreign key: claims are written beside their lines in one transaction, and on a new table
    // Postgres plans the per-row key check as a scan, which made a 20k-line first run take 44 s.
    t.text("balance_transaction_id").notNullable();
    t.text("ledger_key").notNullable();
    t.primary(["balance_transaction_id", "ledger_key"]);
    t.index(["ledger_key"]);
  });

  await knex.schema.createTable("reconciliation_cursors", (t) => {
    t.text("name").primary(); // `balance_transactions`
    t.bigInteger("created").notNullable(); // every balance transaction created before this has been read
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable("reconciliation_runs", (t) => {
    t.text("id").primary(); // rec_…
    t.text("status").notNullable();
    t.text("trigger").notNullable(); // schedule | admin | cli
    t.text("requested_by");
    t.timestamp("window_start", { useTz: true }).notNullable();
    t.timestamp("window_end", { useTz: true }).notNullable();
    t.integer("stripe_matched");
    t.integer("stripe_unmatched");
    t.integer("ledger_matched");
    t.integer("ledger_unmatched");
    t.jsonb("healed_events").notNullable().defaultTo("[]");
    t.text("error");
    t.timestamp("started_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("finished_at", { useTz: true });
    t.index(["started_at"]);
  });
  await knex.raw(`ALTER TABLE reconciliation_runs ADD CONSTRAINT reconciliation_runs_status
    CHECK (status IN ('queued', 'running', 'matched', 'mismatch', 'failed'))`);

  await knex.schema.createTable("reconciliation_discrepancies", (t) => {
    t.bigIncrements("id").primary();
    t.text("run_id").notNullable().references("reconciliation_runs.id");
    t.text("side").notNullable(); // stripe: Stripe booked it, the ledger lacks it; ledger: the reverse
    t.text("stripe_id"); // txn_… on the Stripe side
    t.bigInteger("ledger_transaction_id");
    t.text("ledger_key");
    t.text("type").notNullable();
    t.bigInteger("amount_minor").notNullable();
    t.text("currency").notNullable();
    t.text("reason").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["run_id", "id"]);
  });
  await knex.raw(`ALTER TABLE reconciliation_discrepancies ADD CONSTRAINT reconciliation_discrepancies_side
    CHECK (side IN ('stripe', 'ledger'))`);

  await knex.schema.alterTable("stripe_reconciliation_snapshots", (t) => {
    t.text("run_id").references("reconciliation_runs.id");
    t.integer("stripe_matched").notNullable().defaultTo(0);
    t.integer("stripe_unmatched").notNullable().defaultTo(0);
    t.integer("ledger_matched").notNullable().defaultTo(0);
    t.integer("ledger_unmatched").notNullable().defaultTo(0);
    t.integer("healed_events").notNullable().defaultTo(0);
    t.bigInteger("opening_balance_minor").notNullable().defaultTo(0);
    t.bigInteger("fx_exposure_minor").notNullable().defaultTo(0);
    t.unique(["run_id", "currency"]);
  });
  await knex.raw(`ALTER TABLE stripe_reconciliation_snapshots ADD CONSTRAINT stripe_reconciliation_snapshots_status
    CHECK (status IN ('matched', 'mismatch'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE stripe_reconciliation_snapshots
    DROP CONSTRAINT stripe_reconciliation_snapshots_status,
    DROP COLUMN run_id, DROP COLUMN stripe_matched, DROP COLUMN stripe_unmatched,
    DROP COLUMN ledger_matched, DROP COLUMN ledger_unmatched, DROP COLUMN healed_events,
    DROP COLUMN opening_balance_minor, DROP COLUMN fx_exposure_minor`);
  for (const t of [
    "reconciliation_discrepancies",
    "reconciliation_runs",
    "reconciliation_cursors",
    "stripe_balance_transaction_claims",
    "stripe_balance_transactions",
  ]) {
    await knex.schema.dropTableIfExists(t);
  }
  await knex.schema.alterTable("payment_transactions", (t) => t.dropColumn("settlement_currency"));
  await knex.raw(`ALTER TABLE stripe_webhook_events DROP CONSTRAINT stripe_webhook_events_received_via`);
  await knex.schema.alterTable("stripe_webhook_events", (t) => t.dropColumn("received_via"));
  await knex.schema.alterTable("users", (t) => t.dropColumn("wallet_balance_minor"));
  await knex.raw(`DROP INDEX wallet_ledger_transactions_created`);
  // The account check is left wide: narrowing it would fail on any platform_bank or fx entry.
}
