import { sql, type Kysely } from "kysely";
import type { FileInventory, ScanReport } from "@modelvet/engine";
import type { Database } from "../db/schema.js";
import { now } from "./common.js";

/** What a worker needs to run a scan job: the scan and its model. */
export interface ScanJob {
  id: string;
  status: Database["file_scans"]["status"];
  attempts: number;
  ramMegabytes: number | null;
  modelUri: string;
  revision: string;
  integrationId: string | null;
}

export async function loadScanJob(db: Kysely<Database>, id: string): Promise<ScanJob | undefined> {
  const row = await db
    .selectFrom("file_scans as f")
    .innerJoin("models as m", "m.id", "f.model_id")
    .select([
      "f.id",
      "f.status",
      "f.attempts",
      "f.ram_request_megabytes",
      "m.model_uri",
      "m.revision",
      "m.integration_id",
    ])
    .where("f.id", "=", id)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    status: row.status,
    attempts: Number(row.attempts),
    ramMegabytes: row.ram_request_megabytes,
    modelUri: row.model_uri,
    revision: row.revision,
    integrationId: row.integration_id,
  };
}

/** Marks the scan running on `worker` (again, after a crash: progress restarts from zero). */
export async function markRunning(db: Kysely<Database>, id: string, worker: string): Promise<void> {
  await db
    .updateTable("file_scans")
    .set({
      status: "running",
      started_at: now(),
      worker,
      files_done: 0,
      files_total: 0,
      bytes_read: 0,
      attempts: sql<number>`attempts + 1`,
    })
    .where("id", "=", id)
    .execute();
}

export async function saveProgress(
  db: Kysely<Database>,
  id: string,
  progress: { filesDone: number; filesTotal: number; bytesRead: number },
): Promise<void> {
  await db
    .updateTable("file_scans")
    .set({ files_done: progress.filesDone, files_total: progress.filesTotal, bytes_read: progress.bytesRead })
    .where("id", "=", id)
    .where("status", "=", "running")
    .execute();
}

export async function saveResult(
  db: Kysely<Database>,
  id: string,
  report: ScanReport,
  inventories: FileInventory[],
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("file_scans")
      .set({
        status: "succeeded",
        finished_at: now(),
        error: null,
        severity: report.severity,
        rules_version: report.rules_version,
        commit_sha: report.targets?.[0]?.commit ?? null,
        result: JSON.stringify(report),
        files_done: report.stats.files,
        files_total: report.stats.files,
        bytes_read: report.stats.bytes_read,
      })
      .where("id", "=", id)
      .execute();
    await trx.deleteFrom("file_scan_inventories").where("file_scan_id", "=", id).execute();
    await trx
      .insertInto("file_scan_inventories")
      .values({ file_scan_id: id, inventories: JSON.stringify(inventories) })
      .execute();
  });
}

/** Back to queued when a stopping process hands the job back (it runs again, from the start). */
export async function markQueued(db: Kysely<Database>, id: string): Promise<void> {
  await db
    .updateTable("file_scans")
    .set({ status: "queued", started_at: null, files_done: 0, files_total: 0, bytes_read: 0 })
    .where("id", "=", id)
    .where("status", "=", "running")
    .execute();
}

export async function saveFailure(db: Kysely<Database>, id: string, message: string): Promise<void> {
  await db
    .updateTable("file_scans")
    .set({ status: "failed", finished_at: now(), error: message })
    .where("id", "=", id)
    .execute();
}

/** A succeeded scan's report and inventories, for re-judging. */
export async function loadForRejudge(
  db: Kysely<Database>,
  id: string,
): Promise<{ report: ScanReport; inventories: FileInventory[] } | undefined> {
  const row = await db
    .selectFrom("file_scans as f")
    .innerJoin("file_scan_inventories as i", "i.file_scan_id", "f.id")
    .select(["f.result", "i.inventories"])
    .where("f.id", "=", id)
    .where("f.status", "=", "succeeded")
    .executeTakeFirst();
  if (!row?.result) return undefined;
  return { report: JSON.parse(row.result) as ScanReport, inventories: JSON.parse(row.inventories) as FileInventory[] };
}

export async function saveRejudged(db: Kysely<Database>, id: string, report: ScanReport): Promise<void> {
  await db
    .updateTable("file_scans")
    .set({ severity: report.severity, rules_version: report.rules_version, result: JSON.stringify(report) })
    .where("id", "=", id)
    .execute();
}
