import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { canSee, LIST_LIMIT, NotFoundError, now, type Scope } from "./common.js";
import { getWorkspace } from "./workspaces.js";
import type { Project as ApiProject, SeverityCounts } from "@modelvet/schema";

export type ModelsBySeverity = SeverityCounts;

/** A project as the API sends it (@modelvet/schema). */
export type Project = ApiProject;

type ProjectRow = Database["projects"];

function toProject(row: ProjectRow): Project {
  return {
    project_id: row.id,
    workspace_id: row.workspace_id,
    name: row.name,
    description: row.description,
    created_at: row.created_at,
  };
}

export async function createProject(
  db: Kysely<Database>,
  scope: Scope,
  input: { name: string; description?: string | undefined; workspace_id: string },
): Promise<Project> {
  await getWorkspace(db, scope, input.workspace_id);
  const row = {
    id: randomUUID(),
    workspace_id: input.workspace_id,
    name: input.name,
    description: input.description ?? "",
    created_at: now(),
  };
  await db.insertInto("projects").values(row).execute();
  return toProject(row);
}

export async function listProjects(db: Kysely<Database>, scope: Scope, workspaceId: string): Promise<Project[]> {
  await getWorkspace(db, scope, workspaceId);
  const rows = await db
    .selectFrom("projects")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .orderBy("created_at")
    .limit(LIST_LIMIT)
    .execute();
  return rows.map(toProject);
}

export async function getProjectRow(db: Kysely<Database>, scope: Scope, id: string): Promise<ProjectRow> {
  const row = await db.selectFrom("projects").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row || !canSee(scope, row.workspace_id)) throw new NotFoundError(`project ${id} not found`);
  return row;
}

export async function getProject(db: Kysely<Database>, scope: Scope, id: string): Promise<Project> {
  const row = await getProjectRow(db, scope, id);
  const counts = await modelCounts(db, [id]);
  return { ...toProject(row), models_by_severity: counts.get(id)?.bySeverity ?? emptyCounts() };
}

export function emptyCounts(): ModelsBySeverity {
  return { pass: 0, warning: 0, alert: 0, unscanned: 0 };
}

/**
 * Per project: how many models, and how many of them stand at each severity. A model's severity is that of
 * its newest succeeded scan (a scan in progress does not clear an earlier Alert); none yet is "unscanned".
 */
export async function modelCounts(
  db: Kysely<Database>,
  projectIds: string[],
): Promise<Map<string, { models: number; bySeverity: ModelsBySeverity }>> {
  const out = new Map<string, { models: number; bySeverity: ModelsBySeverity }>();
  if (projectIds.length === 0) return out;
  const rows = await db
    .selectFrom("models as m")
    .select((eb) => [
      "m.project_id",
      eb
        .selectFrom("file_scans as f")
        .select("f.severity")
        .whereRef("f.model_id", "=", "m.id")
        .where("f.status", "=", "succeeded")
        .orderBy("f.finished_at", "desc")
        .limit(1)
        .as("severity"),
    ])
    .where("m.project_id", "in", projectIds)
    .where("m.deleted_at", "is", null)
    .limit(LIST_LIMIT * 10)
    .execute();
  for (const row of rows) {
    let entry = out.get(row.project_id);
    if (!entry) out.set(row.project_id, (entry = { models: 0, bySeverity: emptyCounts() }));
    entry.models++;
    const key =
      row.severity === 3 ? "alert" : row.severity === 2 ? "warning" : row.severity === 1 ? "pass" : "unscanned";
    entry.bySeverity[key]++;
  }
  return out;
}
