import { randomUUID } from "node:crypto";
import { rejudgeReport, type Classifier } from "@modelvet/engine";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { now } from "./common.js";
import { loadForRejudge, saveRejudged } from "./scan-jobs.js";
import { noticeResult } from "./webhook-events.js";

/** Models looked at per call; the rest are left for the next (a server start or rules change runs it again). */
const MAX_MODELS = 10_000;

export interface RejudgeSummary {
  /** Latest scans judged again. */
  rejudged: number;
  /** New results recorded because the severity changed (reason "rules change"). */
  changed: string[];
}

/**
 * Judges the latest succeeded scan of every model (of one workspace, or all) again from its stored inventories
 * when the rules it was judged by are not the ones its workspace uses now (a server with another rules pack, or
 * changed workspace rules). Nothing is read from the Hub. The same severity updates the stored result in place; a
 * different one is recorded as a new result with reason "rules change", so the history shows the change.
 */
export async function rejudgeLatest(
  db: Kysely<Database>,
  classifierOf: (workspaceId: string) => Promise<Classifier>,
  workspaceId?: string,
  events: { publicUrl?: string } = {},
): Promise<RejudgeSummary> {
  let query = db
    .selectFrom("models as m")
    .innerJoin("file_scans as f", "f.id", "m.latest_file_scan_id")
    .selectAll("f")
    .where("m.deleted_at", "is", null)
    .where("f.status", "=", "succeeded")
    .limit(MAX_MODELS);
  if (workspaceId) query = query.where("m.workspace_id", "=", workspaceId);
  const summary: RejudgeSummary = { rejudged: 0, changed: [] };
  for (const row of await query.execute()) {
    const classifier = await classifierOf(row.workspace_id);
    if (row.rules_version === classifier.version) continue;
    const stored = await loadForRejudge(db, row.id);
    if (!stored) continue;
    const report = rejudgeReport(stored.report, stored.inventories, classifier);
    summary.rejudged++;
    if (report.severity === row.severity) await saveRejudged(db, row.id, report);
    else {
      const id = await recordChanged(db, row, report, stored.inventories);
      if (!id) continue;
      summary.changed.push(row.model_id);
      await noticeResult(db, id, events.publicUrl, row);
    }
  }
  return summary;
}

/** A new succeeded scan row holding the re-judged result (its id); undefined when another process recorded it first. */
async function recordChanged(
  db: Kysely<Database>,
  previous: Database["file_scans"],
  report: ReturnType<typeof rejudgeReport>,
  inventories: unknown[],
): Promise<string | undefined> {
  const at = now();
  const id = randomUUID();
  return db.transaction().execute(async (trx) => {
    await trx
      .insertInto("file_scans")
      .values({
        ...previous,
        id,
        status: "succeeded",
        created_at: at,
        started_at: at,
        finished_at: at,
        severity: report.severity,
        rules_version: report.rules_version,
        result: JSON.stringify(report),
        reason: "rules change",
        worker: null,
        attempts: 0,
        crashes: 0,
        crash_cause: null,
        retry_ram_megabytes: null,
        heartbeat_at: null,
        queue_job_id: null,
        // Judged again, nothing read.
        bytes_read: 0,
      })
      .execute();
    await trx
      .insertInto("file_scan_inventories")
      .values({ file_scan_id: id, inventories: JSON.stringify(inventories) })
      .execute();
    // The claim: only the process that moves the model's latest scan from the old one keeps its row.
    const moved = await trx
      .updateTable("models")
      .set({ latest_file_scan_id: id })
      .where("id", "=", previous.model_id)
      .where("latest_file_scan_id", "=", previous.id)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 1) return id;
    await trx.deleteFrom("file_scan_inventories").where("file_scan_id", "=", id).execute();
    await trx.deleteFrom("file_scans").where("id", "=", id).execute();
    return undefined;
  });
}
