import { sql, type Kysely } from "kysely";
import type { FileInventory, ScanReport } from "@modelvet/engine";
import type { Database } from "../db/schema.js";
import { now } from "./common.js";
import type { ScanAttempt } from "@modelvet/schema";

/** What a worker needs to run a scan job: the scan and its model. */
export interface ScanJob {
  id: string;
  workspaceId: string;
  status: Database["file_scans"]["status"];
  attempts: number;
  crashes: number;
  crashCause: string | null;
  retryRamMegabytes: number | null;
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
      "f.workspace_id",
      "f.status",
      "f.attempts",
      "f.crashes",
      "f.crash_cause",
      "f.retry_ram_megabytes",
      "f.ram_request_megabytes",
      "m.model_uri",
      "m.revision",
      "f.revision as commit",
      "m.integration_id",
    ])
    .where("f.id", "=", id)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    status: row.status,
    attempts: Number(row.attempts),
    crashes: Number(row.crashes),
    crashCause: row.crash_cause,
    retryRamMegabytes: row.retry_ram_megabytes,
    ramMegabytes: row.ram_request_megabytes,
    modelUri: row.model_uri,
    // A followed model's new commit is scanned as that commit, even if the branch moved on since.
    revision: row.commit ?? row.revision,
    integrationId: row.integration_id,
  };
}

/**
 * Marks the scan running on `worker` (again, after a crash: progress restarts from zero) and opens a row in its
 * attempt history; returns the attempt's number.
 */
export async function markRunning(
  db: Kysely<Database>,
  id: string,
  worker: string,
  queueJobId: string | null = null,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const startedAt = now();
    const row = await trx
      .updateTable("file_scans")
      .set({
        status: "running",
        started_at: startedAt,
        heartbeat_at: startedAt,
        queue_job_id: queueJobId,
        worker,
        files_done: 0,
        files_total: 0,
        bytes_read: 0,
        attempts: sql<number>`attempts + 1`,
      })
      .where("id", "=", id)
      .returning("attempts")
      .executeTakeFirstOrThrow();
    const attempt = Number(row.attempts);
    // An earlier attempt still open had its worker die under it (killed, lost its lease or heartbeat).
    await trx
      .updateTable("file_scan_attempts")
      .set({ finished_at: startedAt, outcome: WORKER_LOST })
      .where("file_scan_id", "=", id)
      .where("finished_at", "is", null)
      .execute();
    await trx
      .insertInto("file_scan_attempts")
      .values({ file_scan_id: id, attempt, worker, started_at: startedAt, finished_at: null, outcome: null })
      .execute();
    return attempt;
  });
}

/**
 * Closes an attempt of the history with how it ended. Always inside the transaction that changes the scan's
 * status, so no reader sees a finished scan whose attempt still looks open (it would read as interrupted).
 */
async function closeAttempt(trx: Kysely<Database>, id: string, attempt: number, outcome: string): Promise<void> {
  await trx
    .updateTable("file_scan_attempts")
    .set({ finished_at: now(), outcome })
    .where("file_scan_id", "=", id)
    .where("attempt", "=", attempt)
    .execute();
}

/** How an attempt ended when its worker died under it (closed by the next start). */
export const WORKER_LOST = "its worker stopped before finishing";
/** How an attempt ended when its stopping worker handed the job back. */
export const HANDED_BACK = "handed back: the worker was stopping";

/** One attempt as the API sends it (@modelvet/schema). */
export type AttemptView = ScanAttempt;

/** The attempt history of a scan, oldest first; `withWorker` names the worker processes (operators only). */
export async function listAttempts(
  db: Kysely<Database>,
  scan: { id: string; status: string; attempts: number },
  withWorker: boolean,
): Promise<AttemptView[]> {
  const rows = await db
    .selectFrom("file_scan_attempts")
    .selectAll()
    .where("file_scan_id", "=", scan.id)
    .orderBy("attempt")
    .execute();
  return rows.map((row) => ({
    attempt: Number(row.attempt),
    started_at: row.started_at,
    ended_at: row.finished_at,
    ...attemptOutcome(row, scan),
    ...(withWorker ? { worker: row.worker } : {}),
  }));
}

/** The stored outcome is "succeeded", "failed", an interruption or the scan process's cause of death. */
function attemptOutcome(
  row: Database["file_scan_attempts"],
  scan: { status: string; attempts: number },
): Pick<AttemptView, "outcome" | "reason"> {
  if (row.outcome === null) {
    // Still open: running if it is the current start of a running scan, else its worker died and no one has
    // started the scan again yet.
    const current = scan.status === "running" && Number(row.attempt) === Number(scan.attempts);
    return current ? { outcome: "running", reason: null } : { outcome: "interrupted", reason: WORKER_LOST };
  }
  if (row.outcome === "succeeded" || row.outcome === "failed") return { outcome: row.outcome, reason: null };
  if (row.outcome === WORKER_LOST || row.outcome === HANDED_BACK)
    return { outcome: "interrupted", reason: row.outcome };
  return { outcome: "crashed", reason: row.outcome };
}

/**
 * Counts a dead scan process before anything else happens, so a restart sees it (poison jobs), and closes its
 * attempt with the cause of death.
 */
export async function recordCrash(
  db: Kysely<Database>,
  id: string,
  attempt: number,
  cause: string,
  retryRamMegabytes: number | null,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("file_scans")
      .set({ crashes: sql<number>`crashes + 1`, crash_cause: cause, retry_ram_megabytes: retryRamMegabytes })
      .where("id", "=", id)
      .execute();
    await closeAttempt(trx, id, attempt, cause);
  });
}

/** The running worker is alive; see `reclaimStale`. */
export async function heartbeat(db: Kysely<Database>, id: string, worker: string): Promise<void> {
  await db
    .updateTable("file_scans")
    .set({ heartbeat_at: now() })
    .where("id", "=", id)
    .where("worker", "=", worker)
    .where("status", "=", "running")
    .execute();
}

/**
 * Running scans whose worker stopped renewing the heartbeat before `cutoff`: each is set back to queued by exactly
 * one caller (the conditional update), which gets its queue job id to hand back to the queue.
 */
export async function reclaimStale(
  db: Kysely<Database>,
  cutoff: string,
): Promise<Array<{ id: string; jobId: string }>> {
  const stale = await db
    .selectFrom("file_scans")
    .select(["id", "queue_job_id"])
    .where("status", "=", "running")
    .where("heartbeat_at", "<", cutoff)
    .limit(100)
    .execute();
  const reclaimed: Array<{ id: string; jobId: string }> = [];
  for (const row of stale) {
    const result = await db
      .updateTable("file_scans")
      .set({ status: "queued", heartbeat_at: null })
      .where("id", "=", row.id)
      .where("status", "=", "running")
      .where("heartbeat_at", "<", cutoff)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1 && row.queue_job_id)
      reclaimed.push({ id: row.id, jobId: row.queue_job_id });
  }
  return reclaimed;
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
  attempt: number,
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
    await closeAttempt(trx, id, attempt, "succeeded");
  });
}

/** Back to queued when a stopping process hands the job back (it runs again, from the start). */
export async function markQueued(db: Kysely<Database>, id: string, attempt: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("file_scans")
      .set({ status: "queued", started_at: null, files_done: 0, files_total: 0, bytes_read: 0 })
      .where("id", "=", id)
      .where("status", "=", "running")
      .execute();
    await closeAttempt(trx, id, attempt, HANDED_BACK);
  });
}

/** Fails the scan; `attempt`, when one was started, is closed as failed in the same transaction. */
export async function saveFailure(db: Kysely<Database>, id: string, message: string, attempt?: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("file_scans")
      .set({ status: "failed", finished_at: now(), error: message })
      .where("id", "=", id)
      .execute();
    if (attempt !== undefined) await closeAttempt(trx, id, attempt, "failed");
  });
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
