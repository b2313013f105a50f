import type { Knex } from "knex";

/**
 * Subscriptions (SPEC → Flows → Subscriptions). The first schema made `subscription_plans`,
 * `user_subscriptions` and `user_notifications` as placeholders that nothing wrote; they get the
 * columns SPEC lists, and two tables join them:
 *
 * - `subscription_plans`: a price and its product. The price's fields are as of `stripe_updated`,
 *   the product's (name, active) as of `product_updated`: price and product events order on their
 *   own clocks. `active` is derived, so no writer can forget one half. A deleted price stays,
 *   inactive, with `price_deleted`.
 * - `stripe_customers`: at most one Stripe Customer per user.
 * - `subscription_setups`: one per `POST /v1/subscriptions`, keyed like top-ups by (user,
 *   Idempotency-Key); it exists before its SetupIntent, whose metadata names it, and records the
 *   subscription made from it, so that is made once.
 * - `user_subscriptions`: Stripe's subscription, as of `stripe_updated`; its latest invoice as of
 *   `invoice_updated` (invoice events order apart from subscription events).
 * - `user_notifications`: one row per fact (`dedupe_key`), for the main application to deliver.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("subscription_plans", (t) => {
    t.dropColumn("active");
    t.integer("trial_period_days");
    t.boolean("price_active").notNullable().defaultTo(true);
    t.boolean("price_deleted").notNullable().defaultTo(false);
    t.boolean("product_active").notNullable().defaultTo(true);
    t.bigInteger("product_updated").notNullable().defaultTo(0);
    t.index(["product_id"]);
  });
  await knex.raw(`ALTER TABLE subscription_plans
    ADD COLUMN active boolean GENERATED ALWAYS AS (price_active AND product_active) STORED`);

  await knex.schema.createTable("stripe_customers", (t) => {
    t.text("user_id").primary().references("users.id");
    t.text("customer_id").notNullable().unique(); // cus_…
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable("subscription_setups", (t) => {
    t.text("id").primary(); // sset_…
    t.text("user_id").notNullable().references("users.id");
    t.text("idempotency_key").notNullable();
    t.text("price_id").notNullable();
    t.text("customer_id");
    t.text("setup_intent_id").unique(); // seti_…
    t.text("client_secret");
    t.text("status").notNullable(); // creating, the SetupIntent's statuses, failed
    t.text("last_error");
    t.text("subscription_id"); // sub_… made from it, once
    t.bigInteger("stripe_updated").notNullable().defaultTo(0);
    t.timestamps(true, true);
    t.unique(["user_id", "idempotency_key"]);
  });

  await knex.schema.alterTable("user_subscriptions", (t) => {
    t.text("setup_id");
    t.text("customer_id");
    t.timestamp("current_period_start", { useTz: true });
    t.timestamp("canceled_at", { useTz: true });
    t.timestamp("ended_at", { useTz: true });
    t.text("latest_invoice_id");
    t.text("latest_invoice_status");
    t.bigInteger("invoice_updated").notNullable().defaultTo(0);
    t.index(["user_id", "created_at"]);
  });

  await knex.schema.alterTable("user_notifications", (t) => {
    t.renameColumn("data", "payload");
    t.text("subscription_id");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("user_notifications", (t) => {
    t.dropColumn("subscription_id");
    t.renameColumn("payload", "data");
  });
  await knex.schema.alterTable("user_subscriptions", (t) => {
    t.dropIndex(["user_id", "created_at"]);
    for (const c of ["setup_id", "customer_id", "current_period_start", "canceled_at", "ended_at"])
      t.dropColumn(c);
    for (const c of ["latest_invoice_id", "latest_invoice_status", "invoice_updated"]) t.dropColumn(c);
  });
  await knex.schema.dropTable("subscription_setups");
  await knex.schema.dropTable("stripe_customers");
  await knex.schema.alterTable("subscription_plans", (t) => {
    t.dropColumn("active");
    t.dropIndex(["product_id"]);
    for (const c of [
      "trial_period_days",
      "price_active",
      "price_deleted",
      "product_active",
      "product_updated",
    ])
      t.dropColumn(c);
  });
  await knex.schema.alterTable("subscription_plans", (t) =>
    t.boolean("active").notNullable().defaultTo(true),
  );
}
