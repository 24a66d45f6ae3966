import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";

/**
 * The one set of migrations, for SQLite and PostgreSQL alike. They run in the order of their names, so a new one
 * takes the next free number (test/migrations.test.ts checks the numbers leave no gap). Append new ones; never
 * edit a shipped one.
 */
const MIGRATIONS: Record<string, Migration> = {
  "001_init": {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("workspaces")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("api_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("workspace_id", "text", (c) => c.references("workspaces.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("key_hash", "text", (c) => c.notNull().unique())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("projects")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("projects_workspace").on("projects").column("workspace_id").execute();
      await db.schema
        .createTable("integrations")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("integration_type", "text", (c) => c.notNull())
        .addColumn("fields", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("integrations_workspace").on("integrations").column("workspace_id").execute();
      await db.schema
        .createTable("models")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
        .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("model_uri", "text", (c) => c.notNull())
        .addColumn("revision", "text", (c) => c.notNull())
        .addColumn("integration_id", "text", (c) => c.references("integrations.id"))
        .addColumn("latest_file_scan_id", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("models_project").on("models").column("project_id").execute();
      await db.schema
        .createTable("file_scans")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("model_id", "text", (c) => c.notNull().references("models.id"))
        .addColumn("project_id", "text", (c) => c.notNull())
        .addColumn("workspace_id", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("files_done", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("files_total", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("bytes_read", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("error", "text")
        .addColumn("ram_request_megabytes", "integer")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("started_at", "text")
        .addColumn("finished_at", "text")
        .addColumn("severity", "integer")
        .addColumn("rules_version", "text")
        .addColumn("commit_sha", "text")
        .addColumn("result", "text")
        .addColumn("worker", "text")
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex("file_scans_model").on("file_scans").columns(["model_id", "created_at"]).execute();
      await db.schema
        .createTable("file_scan_inventories")
        .addColumn("file_scan_id", "text", (c) => c.primaryKey())
        .addColumn("inventories", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("lease_owner", "text")
        .addColumn("lease_expires_at", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("jobs_claim").on("jobs").columns(["state", "created_at"]).execute();
    },
  },
  "002_scan_processes": {
    async up(db: Kysely<unknown>): Promise<void> {
      // Scan processes that died abnormally (poison jobs are not retried past this) and why the last one did.
      await db.schema
        .alterTable("file_scans")
        .addColumn("crashes", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("file_scans").addColumn("crash_cause", "text").execute();
      await db.schema.alterTable("file_scans").addColumn("retry_ram_megabytes", "integer").execute();
      // Renewed by the worker running the scan; a stale one means the worker died (scale-out fail-over).
      await db.schema.alterTable("file_scans").addColumn("heartbeat_at", "text").execute();
      await db.schema.alterTable("file_scans").addColumn("queue_job_id", "text").execute();
      await db.schema
        .createTable("file_scan_attempts")
        .addColumn("file_scan_id", "text", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("worker", "text", (c) => c.notNull())
        .addColumn("started_at", "text", (c) => c.notNull())
        .addColumn("finished_at", "text")
        .addColumn("outcome", "text")
        .addPrimaryKeyConstraint("file_scan_attempts_pk", ["file_scan_id", "attempt"])
        .execute();
    },
  },
  "003_manage": {
    // Keys list by a prefix (never the key); a model deleted with its history kept stays as a hidden row.
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable("api_keys").addColumn("prefix", "text").execute();
      await db.schema.alterTable("models").addColumn("deleted_at", "text").execute();
    },
  },
  "004_follow": {
    // Continuous scanning: followed models are polled for new commits (one claim per model per interval, so
    // several API processes never poll the same model twice) and Hub webhooks; a scan records which commit it
    // was asked for and why it ran; repeated webhook deliveries are recognised by their id.
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable("models")
        .addColumn("follow", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("models").addColumn("next_poll_at", "text").execute();
      await db.schema.alterTable("models").addColumn("last_seen_sha", "text").execute();
      await db.schema.createIndex("models_follow").on("models").columns(["follow", "next_poll_at"]).execute();
      await db.schema.alterTable("workspaces").addColumn("poll_interval_seconds", "integer").execute();
      await db.schema.alterTable("workspaces").addColumn("hook_secret", "text").execute();
      await db.schema.alterTable("file_scans").addColumn("revision", "text").execute();
      await db.schema.alterTable("file_scans").addColumn("reason", "text").execute();
      await db.schema
        .createTable("hook_deliveries")
        .addColumn("workspace_id", "text", (c) => c.notNull())
        .addColumn("delivery_id", "text", (c) => c.notNull())
        .addColumn("received_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("hook_deliveries_pk", ["workspace_id", "delivery_id"])
        .execute();
    },
  },
  "004_rules": {
    // Workspace custom rules, one row per version (who and when); rules null: cleared.
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("workspace_rules")
        .addColumn("workspace_id", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("rules", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("workspace_rules_pk", ["workspace_id", "version"])
        .execute();
    },
  },
  "005_webhooks": {
    // Outbound webhooks: per-workspace receivers (the signing secret sealed like integration secrets), one
    // delivery row per event and receiver (unique per event key, so a repeated event is queued once), claimed by
    // a lease like the embedded jobs, and one row per attempt for the delivery log.
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("webhooks")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id"))
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("secret", "text", (c) => c.notNull())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("webhooks_workspace").on("webhooks").column("workspace_id").execute();
      await db.schema
        .createTable("webhook_deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("webhook_id", "text", (c) => c.notNull())
        .addColumn("workspace_id", "text", (c) => c.notNull())
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("event_key", "text", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "text", (c) => c.notNull())
        .addColumn("lease_owner", "text")
        .addColumn("lease_expires_at", "text")
        .addColumn("last_status", "integer")
        .addColumn("last_error", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .addColumn("delivered_at", "text")
        .addUniqueConstraint("webhook_deliveries_event", ["webhook_id", "event_key"])
        .execute();
      await db.schema
        .createIndex("webhook_deliveries_due")
        .on("webhook_deliveries")
        .columns(["state", "next_attempt_at"])
        .execute();
      await db.schema
        .createIndex("webhook_deliveries_webhook")
        .on("webhook_deliveries")
        .columns(["webhook_id", "created_at"])
        .execute();
      await db.schema
        .createTable("webhook_attempts")
        .addColumn("delivery_id", "text", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("started_at", "text", (c) => c.notNull())
        .addColumn("finished_at", "text", (c) => c.notNull())
        .addColumn("status_code", "integer")
        .addColumn("error", "text")
        .addPrimaryKeyConstraint("webhook_attempts_pk", ["delivery_id", "attempt"])
        .execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(MIGRATIONS) };
const TABLE = "modelvet_migrations";

/** The migrations' names, in the order they run. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS).sort();

/**
 * Migrations shipped under another name, old name → new. 005_webhooks was first shipped as 006_webhooks (no 005
 * existed): a later 005 would have sorted before it and been refused on every database that had run it.
 */
const RENAMED: Readonly<Record<string, string>> = { "006_webhooks": "005_webhooks" };

/**
 * Records each renamed migration under its new name (the same schema change, so nothing runs again). Idempotent,
 * so concurrent starters may both do it; a database holding both names is left for the migrator to refuse.
 */
async function renameShipped(db: Kysely<unknown>): Promise<void> {
  const tables = await db.introspection.getTables();
  if (!tables.some((t) => t.name === TABLE)) return;
  for (const [from, to] of Object.entries(RENAMED))
    await sql`update ${sql.table(TABLE)} set name = ${to} where name = ${from}
      and not exists (select 1 from ${sql.table(TABLE)} as taken where taken.name = ${to})`.execute(db);
}

/** Brings the schema up to date; concurrent starters are serialised by Kysely's migration lock. */
export async function migrate(db: Kysely<unknown>): Promise<void> {
  await renameShipped(db);
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: TABLE,
    migrationLockTableName: "modelvet_migrations_lock",
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed)
    throw new Error(
      failed ? `migration ${failed.migrationName} failed: ${(error as Error)?.message}` : (error as Error)?.message,
    );
}
