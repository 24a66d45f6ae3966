import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { repoIdProblem, revisionProblem } from "@modelvet/engine";
import type { Database } from "../db/schema.js";
import { canSee, InvalidRequestError, LIST_LIMIT, NotFoundError, now, SCAN_LIST_LIMIT, type Scope } from "./common.js";
import { fileScansByIds, type FileScan } from "./file-scans.js";
import { requireIntegration } from "./integrations.js";
import { getProjectRow } from "./projects.js";
import type { Model as ApiModel, RevisionEntry } from "@modelvet/schema";

/** A model as the API sends it (@modelvet/schema). */
export type Model = ApiModel;

export interface ModelInput {
  name: string;
  model_config: {
    hugging_face: { model_uri: string; revision?: string | undefined; follow?: boolean | undefined };
  };
  integration_id?: string | undefined;
}

type ModelRow = Database["models"];

function toModel(row: ModelRow, latest: FileScan | null): Model {
  return {
    model_id: row.id,
    project_id: row.project_id,
    workspace_id: row.workspace_id,
    name: row.name,
    created_at: row.created_at,
    integration_id: row.integration_id,
    model_config: { hugging_face: { model_uri: row.model_uri, revision: row.revision, follow: row.follow === 1 } },
    latest_file_scan: latest,
  };
}

export async function registerModel(
  db: Kysely<Database>,
  scope: Scope,
  projectId: string,
  input: ModelInput,
): Promise<Model> {
  requireHubNames(input.model_config.hugging_face);
  const project = await getProjectRow(db, scope, projectId);
  if (input.integration_id) await requireIntegration(db, scope, input.integration_id, project.workspace_id);
  const revision = input.model_config.hugging_face.revision ?? "main";
  // A branch or tag moves; a commit does not, so there is nothing to follow.
  const follow = input.model_config.hugging_face.follow ?? !COMMIT.test(revision);
  const row: ModelRow = {
    id: randomUUID(),
    project_id: project.id,
    workspace_id: project.workspace_id,
    name: input.name,
    model_uri: input.model_config.hugging_face.model_uri,
    revision,
    integration_id: input.integration_id ?? null,
    latest_file_scan_id: null,
    created_at: now(),
    deleted_at: null,
    follow: follow ? 1 : 0,
    next_poll_at: null,
    last_seen_sha: null,
  };
  await db.insertInto("models").values(row).execute();
  return toModel(row, null);
}

export async function getModelRow(db: Kysely<Database>, scope: Scope, id: string): Promise<ModelRow> {
  const row = await db
    .selectFrom("models")
    .selectAll()
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (!row || !canSee(scope, row.workspace_id)) throw new NotFoundError(`model ${id} not found`);
  return row;
}

export async function getModel(db: Kysely<Database>, scope: Scope, id: string, rulesVersion: string): Promise<Model> {
  const row = await getModelRow(db, scope, id);
  // One model: its latest scan comes with the full result (what the model page shows); lists leave it out.
  const [latest] = row.latest_file_scan_id
    ? await fileScansByIds(db, [row.latest_file_scan_id], rulesVersion, true)
    : [];
  return { ...toModel(row, latest ?? null), revisions: await revisionHistory(db, row.id) };
}

const COMMIT = /^[0-9a-f]{40}$/;

export type { RevisionEntry };

const LABELS = { 1: "Pass", 2: "Warning", 3: "Alert" } as const;

/** The commits a model's scans covered, newest first, each with the verdict of its newest finished scan. */
async function revisionHistory(db: Kysely<Database>, modelId: string): Promise<RevisionEntry[]> {
  const rows = await db
    .selectFrom("file_scans")
    .select(["id", "commit_sha", "revision", "status", "severity", "reason", "created_at", "finished_at"])
    .where("model_id", "=", modelId)
    .orderBy("created_at", "desc")
    .limit(SCAN_LIST_LIMIT)
    .execute();
  const byCommit = new Map<string, RevisionEntry>();
  for (const row of rows) {
    const commit = row.commit_sha ?? row.revision;
    if (!commit) continue;
    const seen = byCommit.get(commit);
    if (seen) {
      seen.scans++;
      continue;
    }
    const severity = row.severity === 1 || row.severity === 2 || row.severity === 3 ? row.severity : null;
    byCommit.set(commit, {
      commit,
      file_scan_id: row.id,
      scanned_at: row.finished_at ?? row.created_at,
      status: row.status,
      severity,
      severity_label: severity ? LABELS[severity] : null,
      reason: row.reason,
      scans: 1,
    });
  }
  return [...byCommit.values()];
}

export async function listModels(
  db: Kysely<Database>,
  scope: Scope,
  projectId: string,
  rulesVersion: string,
): Promise<Model[]> {
  await getProjectRow(db, scope, projectId);
  const rows = await db
    .selectFrom("models")
    .selectAll()
    .where("project_id", "=", projectId)
    .where("deleted_at", "is", null)
    .orderBy("created_at")
    .limit(LIST_LIMIT)
    .execute();
  const ids = rows.flatMap((r) => (r.latest_file_scan_id ? [r.latest_file_scan_id] : []));
  const scans = new Map((await fileScansByIds(db, ids, rulesVersion)).map((s) => [s.file_scan_id, s]));
  return rows.map((r) => toModel(r, (r.latest_file_scan_id && scans.get(r.latest_file_scan_id)) || null));
}

/** The schema's patterns admit the characters; this admits only names the Hub accepts (no `..`, `.`, `//`, `%`). */
function requireHubNames(hub: { model_uri: string; revision?: string | undefined }): void {
  const repo = repoIdProblem(hub.model_uri);
  if (repo) throw new InvalidRequestError(`model_config.hugging_face.model_uri: ${repo}`);
  const revision = hub.revision === undefined ? undefined : revisionProblem(hub.revision);
  if (revision)
    throw new InvalidRequestError(
      `model_config.hugging_face.revision must be a branch, tag or commit the Hub accepts: ${revision}`,
    );
}
