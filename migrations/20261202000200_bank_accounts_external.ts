import type { Knex } from "knex";

/**
 * Bank accounts as Connect really works (SPEC → Bank accounts). Payouts go to the connected
 * account's external account, so `user_bank_accounts` mirrors those (`ba_…`): for Express
 * accounts Stripe collects them in onboarding and there is no Financial Connections account at
 * all, hence the fca column becomes optional. A custom platform's row carries both ids, the
 * fca_ it linked and the ba_ Stripe made of it.
 *
 * - `stripe_updated` is the `created` of the event whose state the row holds: state-mirroring
 *   events older than it change nothing (SPEC → Webhooks → Order).
 * - `status` is Stripe's (`new`, `errored`, `verification_failed`, …, or the fca's before it
 *   is attached) or Coffer's `deleted`, which is terminal: Stripe never reuses an id.
 * - `stripe_connected_accounts.account_type` is the account's own type (`express` or `custom`),
 *   not today's CONNECT_ACCOUNT_TYPE: accounts made before a switch keep the type Stripe gave them,
 *   and with it who manages their bank account.
 * - `bank_account_sessions` remembers each Financial Connections session Coffer opened, because
 *   an fca_ does not name its session and the session is where Stripe puts the bank-account
 *   token that becomes the external account.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("stripe_connected_accounts", (t) => {
    t.text("account_type").notNullable().defaultTo("express"); // every account before this was Express
  });
  await knex.schema.alterTable("user_bank_accounts", (t) => {
    t.text("financial_connections_account_id").nullable().alter();
    t.text("external_account_id").unique(); // ba_…; only Stripe references, never numbers
    t.text("connected_account_id"); // acct_… holding it
    t.text("currency");
    t.boolean("default_for_currency").notNullable().defaultTo(false);
    t.bigInteger("stripe_updated").notNullable().defaultTo(0);
    t.index(["connected_account_id", "currency"]);
  });
  await knex.raw(`ALTER TABLE user_bank_accounts ADD CONSTRAINT user_bank_accounts_has_stripe_id
    CHECK (external_account_id IS NOT NULL OR financial_connections_account_id IS NOT NULL)`);

  await knex.schema.createTable("bank_account_sessions", (t) => {
    t.text("id").primary(); // fcsess_…
    t.text("user_id").notNullable().references("users.id");
    t.text("connected_account_id").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(["connected_account_id", "created_at"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("bank_account_sessions");
  await knex.raw("ALTER TABLE user_bank_accounts DROP CONSTRAINT user_bank_accounts_has_stripe_id");
  await knex("user_bank_accounts").whereNull("financial_connections_account_id").delete();
  await knex.schema.alterTable("user_bank_accounts", (t) => {
    t.dropIndex(["connected_account_id", "currency"]);
    t.dropColumn("external_account_id");
    t.dropColumn("connected_account_id");
    t.dropColumn("currency");
    t.dropColumn("default_for_currency");
    t.dropColumn("stripe_updated");
    t.text("financial_connections_account_id").notNullable().alter();
  });
  await knex.schema.alterTable("stripe_connected_accounts", (t) => t.dropColumn("account_type"));
}
