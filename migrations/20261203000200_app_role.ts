import type { Knex } from "knex";

/**
 * Least privilege (SPEC → Operations and security). The application connects as `coffer_app`
 * (or as a login role that is a member of it: see src/db/app-role.ts), which owns nothing and
 * may only read and write rows: it can never UPDATE, DELETE or TRUNCATE the ledger or the audit
 * log, and, not being their owner or a superuser, cannot disable their triggers
 * (`ALTER TABLE … DISABLE TRIGGER`, `SET session_replication_role = replica`). The triggers stay,
 * for the owner and superusers.
 *
 * Migrations run as the owner (DATABASE_OWNER_URL). `ALTER DEFAULT PRIVILEGES` gives coffer_app
 * rows on every table and sequence the owner creates later, so a new table needs nothing here;
 * a new append-only table must revoke UPDATE and DELETE from coffer_app in its own migration
 * (test/least-privilege.test.ts fails for any table with the append-only trigger that lacks it).
 */
export const APP_ROLE = "coffer_app";
const APPEND_ONLY = ["wallet_ledger", "wallet_ledger_transactions", "admin_audit_log"];
const MIGRATION_TABLES = ["knex_migrations", "knex_migrations_lock"];

/**
 * Roles belong to the cluster, not the database, and test files (or two deploys) migrate
 * databases of one cluster at the same time: the loser of two concurrent CREATE ROLEs waits for
 * the winner's commit, then gets unique_violation (or duplicate_object, when the role was already
 * visible). Either way the role exists, which is all this needs.
 */
export async function createRoleIfMissing(knex: Knex, role: string, attributes = "LOGIN"): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error(`not a plain role name: ${role}`);
  await knex.raw(`
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
        BEGIN
          CREATE ROLE "${role}" ${attributes} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
          NULL;
        END;
      END IF;
    END $$;
  `);
}

export async function up(knex: Knex): Promise<void> {
  // LOGIN without a password: on a trust-auth developer machine it connects as is; under
  // password auth nobody can log in as it until an operator sets one (or uses a member role).
  await createRoleIfMissing(knex, APP_ROLE);
  await knex.raw(`
    DO $$ BEGIN
      EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${APP_ROLE}', current_database());
    END $$;
    -- Older clusters let PUBLIC create objects in public; nobody but the owner should.
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    GRANT USAGE ON SCHEMA public TO ${APP_ROLE};

    -- From nothing, so running this on a database with other grants leaves only these.
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${APP_ROLE};
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${APP_ROLE};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${APP_ROLE};
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${APP_ROLE};
    REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ${APPEND_ONLY.join(", ")} FROM ${APP_ROLE};
    -- The application never migrates; it may see which migrations ran.
    REVOKE ALL ON ${MIGRATION_TABLES.join(", ")} FROM ${APP_ROLE};
    GRANT SELECT ON ${MIGRATION_TABLES.join(", ")} TO ${APP_ROLE};

    -- Tables and sequences this owner creates in later migrations.
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${APP_ROLE};
  `);
}

export async function down(knex: Knex): Promise<void> {
  // The role stays: it is the cluster's, and other databases may grant to it.
  await knex.raw(`
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM ${APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM ${APP_ROLE};
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${APP_ROLE};
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${APP_ROLE};
    REVOKE USAGE ON SCHEMA public FROM ${APP_ROLE};
  `);
}
