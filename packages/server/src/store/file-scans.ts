import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { ScanReport } from "@modelvet/engine";
import type { Database, FileScanTable } from "../db/schema.js";
import {
  canSee,
  InvalidRequestError,
  NotFoundError,
  now,
  SCAN_LIST_LIMIT,
  severityOf,
  toNumber,
  type Scope,
} from "./common.js";
import { getModelRow } from "./models.js";
import type { FileScan as ApiFileScan } from "@modelvet/schema";

export type ScanStatus = FileScanTable["status"];

/** A file scan as the API sends it (@modelvet/schema). */
export type FileScan = ApiFileScan;

const LABELS = { 1: "Pass", 2: "Warning", 3: "Alert" } as const;

type FileScanRow = Database["file_scans"];

export function toFileScan(row: FileScanRow, rulesVersion: string, withResult: boolean): FileScan {
  const severity = severityOf(row.severity);
  return {
    file_scan_id: row.id,
    job_id: row.id,
    model_id: row.model_id,
    project_id: row.project_id,
    workspace_id: row.workspace_id,
    status: row.status,
    progress: { files_done: row.files_done, files_total: row.files_total, bytes_read: toNumber(row.bytes_read) },
    error: row.error,
    ram_request_megabytes: row.ram_request_megabytes,
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
    severity,
    severity_label: severity ? LABELS[severity] : null,
    rules_version: row.rules_version,
    // Workspace custom rules add "+workspace-rules-v<n>.json" to the pack version; the pack part decides.
    rules_outdated: row.rules_version !== null && row.rules_version.split("+workspace-rules-")[0] !== rulesVersion,
    commit: row.commit_sha,
    revision: row.revision,
    reason: row.reason,
    ...(withResult && row.result ? { result: JSON.parse(row.result) as ScanReport } : {}),
  };
}

/** Records a queued scan and makes it the model's latest; the caller enqueues the job afterwards. */
export async function createFileScan(
  db: Kysely<Database>,
  scope: Scope,
  input: {
    model_id: string;
    project_id: string;
    ram_request_megabytes?: number | undefined;
    revision?: string | undefined;
    reason?: string | undefined;
  },
  rulesVersion: string,
): Promise<FileScan> {
  const model = await getModelRow(db, scope, input.model_id);
  if (model.project_id !== input.project_id)
    throw new InvalidRequestError(`model ${input.model_id} is not registered in project ${input.project_id}`);
  const row: FileScanRow = {
    id: randomUUID(),
    model_id: model.id,
    project_id: model.project_id,
    workspace_id: model.workspace_id,
    status: "queued",
    files_done: 0,
    files_total: 0,
    bytes_read: 0,
    error: null,
    ram_request_megabytes: input.ram_request_megabytes ?? null,
    created_at: now(),
    started_at: null,
    finished_at: null,
    severity: null,
    rules_version: null,
    commit_sha: null,
    result: null,
    worker: null,
    attempts: 0,
    crashes: 0,
    crash_cause: null,
    retry_ram_megabytes: null,
    heartbeat_at: null,
    queue_job_id: null,
    revision: input.revision ?? null,
    reason: input.reason ?? null,
  };
  await db.transaction().execute(async (trx) => {
    await trx.insertInto("file_scans").values(row).execute();
    await trx.updateTable("models").set({ latest_file_scan_id: row.id }).where("id", "=", model.id).execute();
  });
  return toFileScan(row, rulesVersion, false);
}

export async function getFileScanRow(db: Kysely<Database>, scope: Scope, id: string): Promise<FileScanRow> {
  const row = await db.selectFrom("file_scans").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row || !canSee(scope, row.workspace_id)) throw new NotFoundError(`file scan ${id} not found`);
  return row;
}

export async function listFileScans(
  db: Kysely<Database>,
  scope: Scope,
  modelId: string,
  rulesVersion: string,
): Promise<FileScan[]> {
  await getModelRow(db, scope, modelId);
  const rows = await db
    .selectFrom("file_scans")
    .selectAll()
    .where("model_id", "=", modelId)
    .orderBy("created_at", "desc")
    .limit(SCAN_LIST_LIMIT)
    .execute();
  return rows.map((r) => toFileScan(r, rulesVersion, true));
}

/** Scans by id (for models' latest scans). */
export async function fileScansByIds(
  db: Kysely<Database>,
  ids: string[],
  rulesVersion: string,
  withResult = false,
): Promise<FileScan[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom("file_scans").selectAll().where("id", "in", ids).execute();
  return rows.map((r) => toFileScan(r, rulesVersion, withResult));
}
