import type { Knex } from "knex";

/**
 * One posting in one round trip: `coffer_post_posting` does, inside the caller's transaction,
 * what postPosting (src/db/stores/ledger.ts) did in six statements: zero balance rows, their
 * locks in the global order, the key lookup, the funds check, the transaction row, its entries
 * and the balance cache. The worker profile of 2026-12-03 (scripts/bench/profile-worker.ts) put
 * half of a credit's worker CPU in the pg driver and its socket writes, one per statement; the
 * domain (what the entries are, the hash, who is a user) stays in TypeScript and arrives here as
 * arrays. A refusal is returned, not raised, so it writes nothing and leaves the caller's
 * transaction usable: a group commit (src/db/group-commit.ts) relies on that.
 *
 * Outcomes: `applied`, `replayed` (the key was posted with the same hash), `conflict` (another
 * hash), `insufficient_funds` (a user-initiated posting that would take an available balance
 * below zero).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION coffer_post_posting(
      p_key text, p_hash text, p_kind text, p_source_id text, p_event_id text, p_currency text,
      p_accounts text[], p_users text[], p_amounts bigint[],
      p_delta_users text[], p_delta_available bigint[], p_delta_held bigint[],
      p_user_initiated boolean
    ) RETURNS TABLE (transaction_id bigint, outcome text)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_id bigint;
      v_hash text;
    BEGIN
      IF cardinality(p_delta_users) > 0 THEN
        -- Zero rows first, so there is always a row to lock; then the locks, in the one global
        -- order every writer uses (user, currency, C collation: lockBalances in balances.ts).
        INSERT INTO user_wallet_balances (user_id, currency)
          SELECT u, p_currency FROM unnest(p_delta_users) u
          ON CONFLICT (user_id, currency) DO NOTHING;
        PERFORM 1 FROM user_wallet_balances
          WHERE user_id = ANY (p_delta_users) AND currency = p_currency
          ORDER BY user_id COLLATE "C", currency COLLATE "C"
          FOR NO KEY UPDATE;
      END IF;

      -- After the locks: a concurrent poster of this key for the same wallet has committed or not begun.
      SELECT t.id, t.input_hash INTO v_id, v_hash
        FROM wallet_ledger_transactions t WHERE t.idempotency_key = p_key;
      IF FOUND THEN
        RETURN QUERY SELECT v_id, CASE WHEN v_hash = p_hash THEN 'replayed' ELSE 'conflict' END;
        RETURN;
      END IF;

      IF p_user_initiated AND EXISTS (
        SELECT 1 FROM unnest(p_delta_users, p_delta_available) d (u, a)
          LEFT JOIN user_wallet_balances b ON b.user_id = d.u AND b.currency = p_currency
         WHERE coalesce(b.available_minor, 0) + d.a < 0
      ) THEN
        RETURN QUERY SELECT NULL::bigint, 'insufficient_funds';
        RETURN;
      END IF;

      -- ON CONFLICT still guards postings with no user account (fees), which no lock serializes.
      INSERT INTO wallet_ledger_transactions (idempotency_key, input_hash, kind, source_id, event_id, currency)
        VALUES (p_key, p_hash, p_kind, p_source_id, p_event_id, p_currency)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id INTO v_id;
      IF v_id IS NULL THEN
        SELECT t.id, t.input_hash INTO v_id, v_hash
          FROM wallet_ledger_transactions t WHERE t.idempotency_key = p_key;
        RETURN QUERY SELECT v_id, CASE WHEN v_hash = p_hash THEN 'replayed' ELSE 'conflict' END;
        RETURN;
      END IF;

      INSERT INTO wallet_ledger (transaction_id, account, user_id, currency, amount_minor)
        SELECT v_id, e.a, e.u, p_currency, e.m FROM unnest(p_accounts, p_users, p_amounts) e (a, u, m);
      UPDATE user_wallet_balances b
         SET available_minor = b.available_minor + d.a, held_minor = b.held_minor + d.h,
             version = b.version + 1, updated_at = now()
        FROM unnest(p_delta_users, p_delta_available, p_delta_held) d (u, a, h)
       WHERE b.user_id = d.u AND b.currency = p_currency;
      RETURN QUERY SELECT v_id, 'applied';
    END $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP FUNCTION IF EXISTS coffer_post_posting(
    text, text, text, text, text, text, text[], text[], bigint[], text[], bigint[], bigint[], boolean)`);
}
