import type { Kysely, Transaction } from "kysely";
import type { ApiKey, UpdateModelBody } from "@modelvet/schema";
import type { Database } from "../db/schema.js";
import { canSee, ConflictError, ForbiddenError, LIST_LIMIT, NotFoundError, now, type Scope } from "./common.js";
import { requireIntegration } from "./integrations.js";
import { getModelRow } from "./models.js";
import { getProjectRow, type Project } from "./projects.js";
import { getWorkspace, type Workspace } from "./workspaces.js";

/*
 * Edits and deletes. Every function first reads the row through the same visibility check as the reads
 * (a workspace key sees only its workspace, an admin key everything), so another workspace's id is a 404.
 * Deletes refuse (409) while a scan below is queued or running: the job would otherwise run against rows
 * that are gone.
 */

type Db = Kysely<Database> | Transaction<Database>;

export async function renameWorkspace(
  db: Kysely<Database>,
  scope: Scope,
  id: string,
  name: string,
): Promise<Workspace> {
  const workspace = await getWorkspace(db, scope, id);
  await db.updateTable("workspaces").set({ name }).where("id", "=", id).execute();
  return { ...workspace, name };
}

/** Deletes a workspace and everything in it (admin keys only: a workspace key must not remove its own home). */
export async function deleteWorkspace(db: Kysely<Database>, scope: Scope, id: string): Promise<void> {
  await getWorkspace(db, scope, id);
  if (!scope.admin) throw new ForbiddenError("only an admin API key can delete a workspace");
  await refuseActiveScans(db, "workspace_id", id);
  await db.transaction().execute(async (trx) => {
    await deleteScans(trx, "workspace_id", id);
    await trx.deleteFrom("models").where("workspace_id", "=", id).execute();
    await trx.deleteFrom("integrations").where("workspace_id", "=", id).execute();
    await trx.deleteFrom("projects").where("workspace_id", "=", id).execute();
    await trx.deleteFrom("api_keys").where("workspace_id", "=", id).execute();
    await trx.deleteFrom("hook_deliveries").where("workspace_id", "=", id).execute();
    await trx.deleteFrom("workspace_rules").where("workspace_id", "=", id).execute();
    const deliveries = trx.selectFrom("webhook_deliveries").select("id").where("workspace_id", "=", id);
    await trx.deleteFrom("webhook_attempts").where("delivery_id", "in", deliveries).execute();
    await trx.deleteFrom("webhook_deliveries").where("workspace_id", "=", id).execute();
    await trx.deleteFrom("webhooks").where("workspace_id", "=", id).execute();
    await trx.deleteFrom("workspaces").where("id", "=", id).execute();
  });
}

export async function updateProject(
  db: Kysely<Database>,
  scope: Scope,
  id: string,
  input: { name?: string | undefined; description?: string | undefined },
): Promise<Project> {
  const row = await getProjectRow(db, scope, id);
  const next = { name: input.name ?? row.name, description: input.description ?? row.description };
  await db.updateTable("projects").set(next).where("id", "=", id).execute();
  return {
    project_id: row.id,
    workspace_id: row.workspace_id,
    name: next.name,
    description: next.description,
    created_at: row.created_at,
  };
}

/** Deletes a project with its models and their scans. */
export async function deleteProject(db: Kysely<Database>, scope: Scope, id: string): Promise<void> {
  await getProjectRow(db, scope, id);
  await refuseActiveScans(db, "project_id", id);
  await db.transaction().execute(async (trx) => {
    await deleteScans(trx, "project_id", id);
    await trx.deleteFrom("models").where("project_id", "=", id).execute();
    await trx.deleteFrom("projects").where("id", "=", id).execute();
  });
}

/** The API's edit of a model (UpdateModelBody): `integration_id: null` detaches the integration. */
export type ModelEdit = UpdateModelBody;

export async function updateModel(db: Kysely<Database>, scope: Scope, id: string, input: ModelEdit): Promise<void> {
  const row = await getModelRow(db, scope, id);
  if (input.integration_id) await requireIntegration(db, scope, input.integration_id, row.workspace_id);
  await db
    .updateTable("models")
    .set({
      name: input.name ?? row.name,
      revision: input.revision ?? row.revision,
      integration_id: input.integration_id === undefined ? row.integration_id : input.integration_id,
      follow: input.follow === undefined ? row.follow : input.follow ? 1 : 0,
      // Another revision (or following again) starts from what the Hub says now: polled at once.
      ...(input.revision !== undefined && input.revision !== row.revision
        ? { last_seen_sha: null, next_poll_at: null }
        : {}),
      ...(input.follow && !row.follow ? { next_poll_at: null } : {}),
    })
    .where("id", "=", id)
    .execute();
}

/**
 * Deletes a model. By default its scans go with it; with `keepHistory` the model is hidden from every list and
 * read but its scans stay readable by id (an audit trail of what was found).
 */
export async function deleteModel(db: Kysely<Database>, scope: Scope, id: string, keepHistory: boolean): Promise<void> {
  await getModelRow(db, scope, id);
  await refuseActiveScans(db, "model_id", id);
  if (keepHistory) {
    await db.updateTable("models").set({ deleted_at: now(), integration_id: null }).where("id", "=", id).execute();
    return;
  }
  await db.transaction().execute(async (trx) => {
    await deleteScans(trx, "model_id", id);
    await trx.deleteFrom("models").where("id", "=", id).execute();
  });
}

/** An API key as listed (@modelvet/schema `ApiKey`). */
export type ApiKeyListing = ApiKey;

/** A workspace's keys: name, prefix and creation time only (the key itself is never stored). */
export async function listApiKeys(db: Kysely<Database>, scope: Scope, workspaceId: string): Promise<ApiKeyListing[]> {
  await getWorkspace(db, scope, workspaceId);
  const rows = await db
    .selectFrom("api_keys")
    .select(["id", "name", "prefix", "created_at"])
    .where("workspace_id", "=", workspaceId)
    .orderBy("created_at")
    .limit(LIST_LIMIT)
    .execute();
  return rows.map((r) => ({ key_id: r.id, name: r.name, prefix: r.prefix, created_at: r.created_at }));
}

/** Revokes a key of the workspace; the key making the request may revoke itself (the next call is a 401). */
export async function revokeApiKey(
  db: Kysely<Database>,
  scope: Scope,
  workspaceId: string,
  keyId: string,
): Promise<void> {
  await getWorkspace(db, scope, workspaceId);
  const row = await db.selectFrom("api_keys").select(["workspace_id"]).where("id", "=", keyId).executeTakeFirst();
  if (!row || row.workspace_id !== workspaceId || !canSee(scope, row.workspace_id))
    throw new NotFoundError(`API key ${keyId} not found in workspace ${workspaceId}`);
  await db.deleteFrom("api_keys").where("id", "=", keyId).execute();
}

type ScanOwner = "workspace_id" | "project_id" | "model_id";

async function refuseActiveScans(db: Db, column: ScanOwner, id: string): Promise<void> {
  const active = await db
    .selectFrom("file_scans")
    .select(["id"])
    .where(column, "=", id)
    .where("status", "in", ["queued", "running"])
    .limit(1)
    .executeTakeFirst();
  if (active)
    throw new ConflictError(`file scan ${active.id} is still queued or running; delete again once it finished`);
}

async function deleteScans(trx: Db, column: ScanOwner, id: string): Promise<void> {
  const scans = trx.selectFrom("file_scans").select("id").where(column, "=", id);
  await trx.deleteFrom("file_scan_inventories").where("file_scan_id", "in", scans).execute();
  // A model points at its latest scan; clear it before the scans go.
  await trx
    .updateTable("models")
    .set({ latest_file_scan_id: null })
    .where(column === "model_id" ? "id" : column, "=", id)
    .execute();
  await trx.deleteFrom("file_scans").where(column, "=", id).execute();
}
