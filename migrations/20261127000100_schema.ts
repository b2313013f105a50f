import type { Knex } from "knex";

/**
 * The whole schema SPEC names. Money is bigint minor units everywhere; every
 * idempotency need is a unique key, because a unique index is the one check
 * that still holds with N workers on M machines.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("users", (t) => {
    t.text("id").primary(); // the JWT `sub`, verbatim
    t.text("email");
    // Legacy float balance, read once by scripts/backfill-legacy.ts and never written by Coffer.
    t.double("wallet_balance");
    t.text("wallet_currency");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable("wallet_ledger_transactions", (t) => {
    t.bigIncrements("id").primary();
    t.text("idempotency_key").notNullable().unique(); // names the money movement: `pi_…:captured`
    t.text("input_hash").notNullable(); // what the key moved; a different hash under the same key is a bug
    t.text("kind").notNullable();
    t.text("source_id").notNullable(); // pi_, re_, dp_, wd_, txn_ …
    t.text("event_id"); // the webhook event that caused it, if any
    t.text("currency").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["source_id"]);
  });

  await knex.schema.createTable("wallet_ledger", (t) => {
    t.bigIncrements("id").primary();
    t.bigInteger("transaction_id").notNullable().references("wallet_ledger_transactions.id");
    t.text("account").notNullable();
    t.text("user_id").references("users.id"); // null for platform accounts
    t.text("currency").notNullable();
    t.bigInteger("amount_minor").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["transaction_id"]);
    t.index(["user_id", "currency", "account"]);
    t.index(["account", "currency"]);
  });
  await knex.raw(`
    ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_amount_nonzero CHECK (amount_minor <> 0);
    ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_account_owner CHECK (
      (account IN ('available','held') AND user_id IS NOT NULL) OR
      (account IN ('stripe','stripe_fees','fee_revenue','dispute_reserve','opening_balance') AND user_id IS NULL));
  `);
  await immutable(knex, "wallet_ledger");
  await immutable(knex, "wallet_ledger_transactions");

  await knex.schema.createTable("user_wallet_balances", (t) => {
    t.text("user_id").notNullable().references("users.id");
    t.text("currency").notNullable();
    t.bigInteger("available_minor").notNullable().defaultTo(0);
    t.bigInteger("pending_minor").notNullable().defaultTo(0); // memo of uncaptured authorizations, not a posting
    t.bigInteger("held_minor").notNullable().defaultTo(0);
    t.bigInteger("version").notNullable().defaultTo(0); // bumps on every change; feeds the wallet ETag
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["user_id", "currency"]);
  });

  await knex.schema.createTable("stripe_webhook_events", (t) => {
    t.text("id").primary(); // Stripe's evt_…
    t.text("type").notNullable();
    t.boolean("livemode").notNullable();
    t.text("api_version");
    t.text("account"); // Connect events carry the connected account
    t.bigInteger("stripe_created").notNullable(); // event.created, unix seconds
    t.jsonb("payload").notNullable();
    t.timestamp("received_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text("status").notNullable();
    t.integer("attempts").notNullable().defaultTo(0);
    t.text("last_error");
    t.timestamp("enqueued_at", { useTz: true });
    t.timestamp("processed_at", { useTz: true });
  });
  await knex.raw(`
    ALTER TABLE stripe_webhook_events ADD CONSTRAINT stripe_webhook_events_status CHECK
      (status IN ('received','enqueued','processing','processed','failed','ignored'));
    CREATE INDEX stripe_webhook_events_open ON stripe_webhook_events (enqueued_at)
      WHERE status IN ('received','enqueued','processing');
    CREATE INDEX stripe_webhook_events_status_idx ON stripe_webhook_events (status, id);
  `);

  await knex.schema.createTable("payment_transactions", (t) => {
    t.text("id").primary(); // top_…
    t.text("user_id").references("users.id"); // null when Stripe told us of a PaymentIntent Coffer did not create
    t.text("purpose").notNullable(); // wallet_top_up | unrecognized
    t.text("payment_intent_id").unique();
    t.text("idempotency_key"); // the client's Idempotency-Key for the top-up
    t.bigInteger("amount_minor").notNullable();
    t.text("currency").notNullable();
    t.text("status").notNullable();
    t.bigInteger("amount_received_minor").notNullable().defaultTo(0);
    t.bigInteger("amount_capturable_minor").notNullable().defaultTo(0);
    t.bigInteger("refunded_minor").notNullable().defaultTo(0);
    t.bigInteger("fee_minor");
    t.text("charge_id");
    t.text("balance_transaction_id");
    t.boolean("livemode").notNullable().defaultTo(false);
    t.text("event_id"); // the event that last changed it
    t.text("client_secret");
    t.timestamps(true, true);
    t.unique(["user_id", "idempotency_key"]);
    t.index(["user_id", "id"]);
  });

  await knex.schema.createTable("http_idempotency_keys", (t) => {
    t.text("user_id").notNullable();
    t.text("route").notNullable();
    t.text("key").notNullable();
    t.text("request_hash").notNullable();
    t.text("state").notNullable(); // in_flight | done
    t.integer("response_status");
    t.jsonb("response_body");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["user_id", "route", "key"]);
    t.index(["created_at"]);
  });

  await createLaterTables(knex);
}

/** Tables that later flows fill: created now so the schema is whole from the start. */
async function createLaterTables(knex: Knex): Promise<void> {
  await knex.schema.createTable("stripe_connected_accounts", (t) => {
    t.text("user_id").primary().references("users.id");
    t.text("account_id").notNullable().unique(); // acct_…
    t.boolean("charges_enabled").notNullable().defaultTo(false);
    t.boolean("payouts_enabled").notNullable().defaultTo(false);
    t.jsonb("requirements_due").notNullable().defaultTo("[]");
    t.bigInteger("stripe_updated").notNullable().defaultTo(0); // event.created of the state stored; older events never overwrite
    t.timestamps(true, true);
  });

  await knex.schema.createTable("withdrawal_requests", (t) => {
    t.text("id").primary(); // wd_…
    t.text("user_id").notNullable().references("users.id");
    t.text("currency").notNullable();
    t.bigInteger("amount_minor").notNullable();
    t.bigInteger("fee_minor").notNullable();
    t.bigInteger("net_minor").notNullable();
    t.text("status").notNullable();
    t.text("connected_account_id");
    t.text("transfer_id").unique();
    t.text("payout_id").unique();
    t.text("reversal_id");
    t.text("idempotency_key");
    t.text("reason");
    t.text("last_error");
    t.text("decided_by");
    t.timestamp("decided_at", { useTz: true });
    t.timestamps(true, true);
    t.unique(["user_id", "idempotency_key"]);
    t.index(["status", "id"]);
    t.index(["user_id", "id"]);
  });
  await knex.raw(`
    ALTER TABLE withdrawal_requests ADD CONSTRAINT withdrawal_requests_status CHECK (status IN
      ('pending_review','canceled','rejected','approved','processing','paid','failed','reversed'));
    ALTER TABLE withdrawal_requests ADD CONSTRAINT withdrawal_requests_amounts CHECK
      (amount_minor > 0 AND fee_minor >= 0 AND net_minor > 0 AND amount_minor = fee_minor + net_minor);
  `);

  await knex.schema.createTable("stripe_reconciliation_snapshots", (t) => {
    t.bigIncrements("id").primary();
    t.text("currency").notNullable();
    t.bigInteger("stripe_available_minor").notNullable();
    t.bigInteger("stripe_pending_minor").notNullable();
    t.bigInteger("ledger_position_minor").notNullable();
    t.bigInteger("difference_minor").notNullable();
    t.text("status").notNullable(); // matched | mismatch
    t.jsonb("details").notNullable().defaultTo("{}");
    t.timestamp("window_start", { useTz: true });
    t.timestamp("window_end", { useTz: true });
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["currency", "created_at"]);
  });

  await knex.schema.createTable("user_bank_accounts", (t) => {
    t.text("id").primary();
    t.text("user_id").notNullable().references("users.id");
    t.text("financial_connections_account_id").notNullable().unique(); // fca_…; only Stripe references, never numbers
    t.text("last4");
    t.text("bank_name");
    t.text("status").notNullable();
    // Legacy encrypted columns kept nullable for old rows; Coffer never writes them.
    t.text("account_number_encrypted");
    t.text("routing_number_encrypted");
    t.timestamps(true, true);
  });

  await knex.schema.createTable("subscription_plans", (t) => {
    t.text("price_id").primary(); // price_…
    t.text("product_id").notNullable();
    t.text("name").notNullable();
    t.bigInteger("unit_amount_minor");
    t.text("currency").notNullable();
    t.text("interval");
    t.integer("interval_count");
    t.boolean("active").notNullable().defaultTo(true);
    t.bigInteger("stripe_updated").notNullable().defaultTo(0);
    t.timestamps(true, true);
  });

  await knex.schema.createTable("user_subscriptions", (t) => {
    t.text("id").primary(); // sub_… once created; the SetupIntent precedes it
    t.text("user_id").notNullable().references("users.id");
    t.text("price_id").notNullable();
    t.text("setup_intent_id").unique();
    t.text("status").notNullable();
    t.boolean("cancel_at_period_end").notNullable().defaultTo(false);
    t.timestamp("current_period_end", { useTz: true });
    t.timestamp("trial_end", { useTz: true });
    t.bigInteger("stripe_updated").notNullable().defaultTo(0);
    t.timestamps(true, true);
    t.index(["user_id"]);
  });

  await knex.schema.createTable("user_notifications", (t) => {
    t.bigIncrements("id").primary();
    t.text("user_id").notNullable().references("users.id");
    t.text("kind").notNullable(); // e.g. trial_will_end
    t.text("dedupe_key").notNullable().unique(); // the event id, so a redelivered event notifies once
    t.jsonb("data").notNullable().defaultTo("{}");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("delivered_at", { useTz: true });
  });

  await knex.schema.createTable("admin_audit_log", (t) => {
    t.bigIncrements("id").primary();
    t.text("actor").notNullable();
    t.text("action").notNullable();
    t.text("target").notNullable();
    t.text("reason");
    t.jsonb("before");
    t.jsonb("after");
    t.text("request_id");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await immutable(knex, "admin_audit_log");
}

/**
 * Append-only at the database: a trigger refuses UPDATE, DELETE and TRUNCATE for
 * every role. Triggers fire for superusers and table owners too, unlike grants.
 */
async function immutable(knex: Knex, table: string): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION coffer_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER ${table}_no_update_delete BEFORE UPDATE OR DELETE ON ${table}
      FOR EACH ROW EXECUTE FUNCTION coffer_refuse_change();
    CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
      FOR EACH STATEMENT EXECUTE FUNCTION coffer_refuse_change();
  `);
}

export async function down(knex: Knex): Promise<void> {
  for (const t of [
    "admin_audit_log",
    "user_notifications",
    "user_subscriptions",
    "subscription_plans",
    "user_bank_accounts",
    "stripe_reconciliation_snapshots",
    "withdrawal_requests",
    "stripe_connected_accounts",
    "http_idempotency_keys",
    "payment_transactions",
    "stripe_webhook_events",
    "user_wallet_balances",
    "wallet_ledger",
    "wallet_ledger_transactions",
    "users",
  ]) {
    await knex.schema.dropTableIfExists(t);
  }
  await knex.raw("DROP FUNCTION IF EXISTS coffer_refuse_change()");
}
