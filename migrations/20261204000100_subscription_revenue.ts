import type { Knex } from "knex";

const ACCOUNTS_BEFORE = `'stripe','stripe_fees','fee_revenue','dispute_reserve','opening_balance','platform_bank','fx'`;

/**
 * Subscription revenue (issue 7's gap for issue 10): a paid subscription invoice is a charge at
 * Stripe, in the platform's balance, that credits no wallet. The ledger gains the platform
 * account it lands in, `subscription_revenue`, so the books still cover Stripe's whole balance.
 *
 * `invoice_payments` mirrors Stripe's InvoicePayments that Coffer booked: on the pinned API
 * version a Charge or PaymentIntent no longer names its invoice, so this is how the
 * balance-transaction stream traces a charge's PaymentIntent to the `in_…:paid` posting.
 *
 * A mirrored line keeps its PaymentIntent, indexed only while the line is unexplained: a charge
 * the stream read before its invoice's payment was known is found again by that PaymentIntent
 * (re-claimed when `invoice_payment.paid` is booked, healed from the Events API by a run), and
 * the 100,000 explained lines of a day add nothing to the index.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE wallet_ledger DROP CONSTRAINT wallet_ledger_account_owner;
    ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_account_owner CHECK (
      (account IN ('available','held') AND user_id IS NOT NULL) OR
      (account IN (${ACCOUNTS_BEFORE},'subscription_revenue') AND user_id IS NULL));
  `);
  await knex.schema.createTable("invoice_payments", (t) => {
    t.text("id").primary(); // inpay_…
    t.text("invoice_id").notNullable(); // in_…
    t.text("payment_intent_id").notNullable().unique(); // pi_…: what a charge's balance transaction names
    t.bigInteger("amount_minor").notNullable();
    t.text("currency").notNullable();
    t.text("event_id");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.alterTable("stripe_balance_transactions", (t) => t.text("payment_intent_id"));
  await knex.raw(`CREATE INDEX stripe_balance_transactions_unexplained_pi
    ON stripe_balance_transactions (payment_intent_id)
    WHERE unexplained IS NOT NULL AND payment_intent_id IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("stripe_balance_transactions", (t) => t.dropColumn("payment_intent_id"));
  await knex.schema.dropTable("invoice_payments");
  await knex.raw(`
    ALTER TABLE wallet_ledger DROP CONSTRAINT wallet_ledger_account_owner;
    ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_account_owner CHECK (
      (account IN ('available','held') AND user_id IS NOT NULL) OR
      (account IN (${ACCOUNTS_BEFORE}) AND user_id IS NULL));
  `);
}
